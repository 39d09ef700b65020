"""Data sources and splits on real and generated data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from finetune.data.spec import load_data
from finetune.data.splits import SplitConfig, make_splits
from finetune.data.types import DataOptions, class_counts
from plugins import RobustuneError
from tests.conftest import make_image_folder, write_csv


def test_imagefolder_reads_every_format_and_mode(image_folder: Path) -> None:
    src = load_data(f"imagefolder:{image_folder}")
    assert src.pool.classes == ["horizontal", "vertical"]
    assert len(src.pool) == 40
    assert isinstance(src.pool.images, torch.Tensor)
    assert src.pool.images.shape == (40, 3, 24, 24) and src.pool.images.dtype == torch.uint8
    # a bare folder path means imagefolder
    assert load_data(str(image_folder)).name == src.name


def test_imagefolder_mixed_sizes_kept_as_list(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=3)
    Image.new("RGB", (40, 30), (10, 200, 30)).save(root / "vertical" / "big.png")
    src = load_data(f"imagefolder:{root}")
    assert isinstance(src.pool.images, list) and len(src.pool) == 7


def test_corrupt_images_named_or_skipped(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=4)
    (root / "horizontal" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(RobustuneError, match=r"1 unreadable image\(s\).*broken\.png.*skip_corrupt"):
        load_data(f"imagefolder:{root}")
    src = load_data(f"imagefolder:{root}", DataOptions(skip_corrupt=True))
    assert len(src.pool) == 8 and "skipped 1" in src.pool.notes[0]


def test_csv_columns_configurable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", repeat=1, text_col="review", label_col="sentiment")
    src = load_data(f"csv:{path}", DataOptions(text_column="review", label_column="sentiment"))
    assert src.pool.classes == ["neg", "pos"] and len(src.pool) == 12
    with pytest.raises(RobustuneError, match="lacks column.*text.*text_column"):
        load_data(f"csv:{path}")


def test_builtin_sources_have_their_documented_sizes() -> None:
    digits = load_data("digits")
    assert len(digits.pool) == 1797 and digits.pool.images.shape[1:] == (1, 8, 8)
    assert int(digits.pool.images.max()) == 255
    rt = load_data("rotten-tomatoes")
    assert class_counts(rt.pool) == {"rotten": 5405, "fresh": 7403}
    fm = load_data("fashion-mnist")
    assert len(fm.pool) == 60000 and fm.test is not None and len(fm.test) == 10000
    assert fm.pool.classes[0] == "T-shirt/top"


def test_splits_are_stratified_deterministic_and_disjoint() -> None:
    src = load_data("digits")
    cfg = SplitConfig(seed=3, per_class=20, val_fraction=0.25)
    a, b = make_splits(src, cfg), make_splits(src, cfg)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    assert set(class_counts(a.train).values()) == {15}
    assert set(class_counts(a.val).values()) == {5}
    flat = {bytes(x.numpy().tobytes()) for part in (a.train, a.val) for x in part.images}
    assert not flat & {bytes(x.numpy().tobytes()) for x in a.test.images}
    c = make_splits(src, SplitConfig(seed=4, per_class=20))
    assert not torch.equal(a.train.images, c.train.images)


def test_own_test_split_is_used_and_capped() -> None:
    src = load_data("fashion-mnist")
    s = make_splits(src, SplitConfig(per_class=10, test_per_class=7))
    assert len(s.test) == 70 and s.notes[0].startswith("holdout: the dataset's own test split")


def test_per_class_larger_than_data_is_refused() -> None:
    with pytest.raises(RobustuneError, match="per_class 500 needs more examples"):
        make_splits(load_data("digits"), SplitConfig(per_class=500))


def test_seed_option_sets_split_and_training_seed() -> None:
    from finetune.run_config import from_options

    cfg = from_options({"data": "digits", "backbone": "resnet18", "out": "x", "seed": 5, "lr": 0.1,
                        "image-size": 16})
    assert cfg.split.seed == 5 and cfg.train.seed == 5
    assert cfg.train.lr == 0.1 and cfg.backbone_config.image_size == 16
