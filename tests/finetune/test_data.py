"""Data sources and splits on real and generated data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from finetune.data.config import DataOptions, SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.data.types import class_counts
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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed: int) -> None:
    """Accuracy, macro-F1, per-class precision, recall, F1, support and the confusion matrix equal
    scikit-learn's (zero_division=0), a class absent from the split and one never predicted included."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    from finetune.metrics import classification_metrics

    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, 4, (60,), generator=g)  # class 4 never occurs
    p = torch.where(torch.rand(60, generator=g) < 0.6, t, torch.randint(0, 5, (60,), generator=g))
    p[p == 2] = 3  # class 2 is never predicted
    classes = ["a", "b", "c", "d", "e"]
    ours = classification_metrics(t, p, classes)
    labels = list(range(5))
    prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
    assert ours["accuracy"] == pytest.approx(float((t == p).float().mean()))
    assert ours["macro_f1"] == pytest.approx(f1_score(t, p, labels=labels, average="macro", zero_division=0))
    assert ours["confusion_matrix"] == confusion_matrix(t, p, labels=labels).tolist()
    for i, c in enumerate(classes):
        row = ours["per_class"][c]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((prec[i], rec[i], f1[i]))
        assert row["support"] == sup[i]
    assert ours["per_class"]["e"]["support"] == 0 and ours["per_class"]["c"]["precision"] == 0.0
