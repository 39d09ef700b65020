"""Bias metrics against hand-computed values, and group data from CSV columns and group files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from explain.bias import group_report
from finetune.data.config import DataOptions, SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from plugins import RobustuneError


def test_group_report_matches_hand_computation() -> None:
    labels = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0])
    pred = torch.tensor([1, 1, 1, 0, 1, 0, 0, 0])
    groups = ["a"] * 4 + ["b"] * 4
    r = group_report(pred, labels, groups, ["neg", "pos"])
    a, b = r["groups"]
    keys = ("accuracy", "selection_rate", "true_positive_rate", "false_positive_rate")
    assert [a[k] for k in keys] == [0.75, 0.75, 1.0, 0.5]
    assert [b[k] for k in keys] == [0.75, 0.25, 0.5, 0.0]
    assert r["demographic_parity_difference"] == pytest.approx(0.5)
    assert r["equalized_odds_difference"] == pytest.approx(0.5)
    assert r["accuracy_gap"] == 0.0 and r["positive_class"] == "pos"


def test_group_report_errors() -> None:
    y = torch.tensor([0, 1])
    with pytest.raises(RobustuneError, match="at least two groups"):
        group_report(y, y, ["a", "a"], ["n", "p"])
    with pytest.raises(RobustuneError, match="positive 'x' is not a class"):
        group_report(y, y, ["a", "b"], ["n", "p"], positive="x")


def test_csv_group_column_follows_the_splits(tmp_path: Path) -> None:
    rows = ["text,label,who"] + [f"review {i},{'pos' if i % 2 else 'neg'},{'young' if i % 3 else 'old'}"
                                 for i in range(60)]
    path = tmp_path / "g.csv"
    path.write_text("\n".join(rows) + "\n")
    source = load_data(f"csv:{path}", DataOptions(group_column="who"))
    test = make_splits(source, SplitConfig()).test
    assert test.groups is not None
    for text, group in zip(test.texts, test.groups, strict=True):
        assert group == ("young" if int(text.split()[1]) % 3 else "old")
    with pytest.raises(RobustuneError, match="lacks column.*where"):
        load_data(f"csv:{path}", DataOptions(group_column="where"))


def test_image_group_file(tmp_path: Path, image_folder: Path) -> None:
    files = sorted(p.relative_to(image_folder).as_posix() for p in image_folder.rglob("*.*"))
    mapping = tmp_path / "groups.csv"
    mapping.write_text("path,group\n" + "".join(f"{f},{'day' if i % 2 else 'night'}\n"
                                                 for i, f in enumerate(files)))
    source = load_data(f"imagefolder:{image_folder}", DataOptions(groups_file=str(mapping)))
    assert source.pool.groups is not None and set(source.pool.groups) == {"day", "night"}
    mapping.write_text("path,group\n" + f"{files[0]},day\n")
    with pytest.raises(RobustuneError, match="names no group for"):
        load_data(f"imagefolder:{image_folder}", DataOptions(groups_file=str(mapping)))
    with pytest.raises(RobustuneError, match="needs an image folder"):
        load_data("digits", DataOptions(groups_file=str(mapping)))
