"""``robustune labels`` as a user runs it: planted flips in an image folder listed with their file paths, the
list fed back with ``train --drop`` / ``--relabel``, the baseline in the record and in the report, and bad
edit files refused in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import CliResult


def _digits_folder(root: Path, per_class: int = 40, classes: int = 5, share: float = 0.1) -> set[str]:
    """Digits as PNGs, one folder per class, ``share`` of them filed under a wrong class: the flipped
    paths."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    flipped: set[str] = set()
    for c in range(classes):
        for i in np.flatnonzero(digits.target == c)[:per_class]:
            label = c
            if rng.random() < share:
                label = int((c + rng.integers(1, classes)) % classes)
            name = f"{label}/{i}.png"
            (root / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.rint(digits.images[i] * 255 / 16).astype(np.uint8)).save(root / name)
            if label != c:
                flipped.add(name)
    return flipped


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    root = tmp_path_factory.mktemp("flipped") / "digits"
    return root, _digits_folder(root)


def test_labels_lists_planted_flips_and_train_takes_the_list_back(cli: CliResult, tmp_path: Path,
                                                                  planted: tuple[Path, set[str]]) -> None:
    root, flipped = planted
    out = tmp_path / "labels"
    res = cli("labels", "--data", str(root), "--image-size", "64", "--out", str(out), "--quiet")
    assert res.code == 0, res.err
    assert "labels look wrong" in res.out and "--relabel" in res.out
    rows = list(csv.DictReader((out / "labels.csv").open()))
    summary = json.loads((out / "labels.json").read_text())
    assert summary["flagged"] == len(rows) and "efficientnet_lite0's features, 5 folds" in summary["method"]
    labeled = set(json.loads((out / "probabilities.json").read_text())["ids"])  # the holdout is not checked
    target = flipped & labeled  # ids are the files' paths
    top = {r["id"] for r in rows[:len(target)]}
    assert len(target) >= 8 and len(top & target) / len(target) >= 0.6, (top, target)
    assert all(r["split"] in ("train", "val") and r["given"] != r["suggested"] for r in rows)
    assert (out / "issues.png").stat().st_size > 5000 and (out / "duplicates.csv").is_file()

    dropped = tmp_path / "dropped"
    res = cli("train", "--data", str(root), "--model", "cnn", "--epochs", "2", "--drop",
              str(out / "labels.csv"), "--out", str(dropped), "--quiet")
    assert res.code == 0, res.err
    meta = json.loads((dropped / "robustune.json").read_text())
    assert any(n.startswith(f"drop: {len(rows)} examples left out") for n in meta["data"]["notes"])
    assert meta["data"]["splits"]["train"] + meta["data"]["splits"]["val"] == 160 - len(rows)
    base = meta["baseline"]
    assert base["name"].startswith("logistic regression on ") and base["test_accuracy"] > 0.5
    assert "baseline" in res.out  # the table's baseline row

    relabeled = tmp_path / "relabeled"
    res = cli("train", "--data", str(root), "--model", "cnn", "--epochs", "2", "--relabel",
              str(out / "labels.csv"), "--out", str(relabeled), "--quiet")
    assert res.code == 0, res.err
    notes = json.loads((relabeled / "robustune.json").read_text())["data"]["notes"]
    assert any(n == f"relabel: {len(rows)} labels changed as {out / 'labels.csv'} says" for n in notes), notes

    page = tmp_path / "report.html"
    res = cli("report", str(relabeled), "--data", str(root), "--labels", str(out), "--out", str(page),
              "--shortcut-n", "0", "--gallery", "1", "--quality-n", "2", "--quiet")
    assert res.code == 0, res.err
    html = page.read_text()
    assert "The data" in html and "for a classical baseline (logistic regression on" in html
    assert "Labels to look at again" in html and f"{len(rows)} of 160" in html


@pytest.mark.parametrize("content, expected", [
    ("name,label\nx,1\n", "has no column id, suggested"),
    ("id,suggested\nno/such.png,1\n", "ids are not examples of this data"),
    ("id,suggested\n{first},nine\n", "which the data does not have"),
])
def test_bad_edit_files_are_one_line(cli: CliResult, tmp_path: Path, planted: tuple[Path, set[str]],
                                     content: str, expected: str) -> None:
    root, _ = planted
    first = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))[0]
    edits = tmp_path / "edits.csv"
    edits.write_text(content.format(first=first))
    res = cli("train", "--data", str(root), "--model", "cnn", "--epochs", "1", "--relabel", str(edits),
              "--out", str(tmp_path / "o"), "--quiet")
    assert res.code != 0 and expected in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert not (tmp_path / "o").exists()


def test_texts_rows_copies_and_dedupe(cli: CliResult, tmp_path: Path) -> None:
    """Reviews with flipped labels and one review copied ten times (case and punctuation changed): the
    rows carry their texts, the copies across splits are listed, and ``--dedupe`` keeps one of them."""
    from finetune.data.spec import load_data

    reviews = load_data("rotten-tomatoes").pool
    rng = np.random.default_rng(0)
    rows = []
    for c in (0, 1):
        for i in rng.permutation(np.flatnonzero(reviews.labels.numpy() == c))[:90]:
            rows.append((reviews.texts[i], reviews.classes[c if rng.random() > 0.1 else 1 - c]))
    copied = "An unforgettable, quietly devastating film about two sisters and a farm"
    rows += [(copied.upper() if k % 2 else copied + "!", "fresh") for k in range(10)]
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows])
    out = tmp_path / "labels"
    res = cli("labels", "--data", str(data), "--out", str(out), "--quiet")
    assert res.code == 0, res.err
    listed = list(csv.DictReader((out / "labels.csv").open()))
    assert listed and all(r["example"] and r["id"].isdigit() for r in listed)
    assert all(rows[int(r["id"])][0] == r["example"] for r in listed)  # an id is the CSV's data row
    copies = list(csv.DictReader((out / "duplicates.csv").open()))
    copy_ids = {str(i) for i in range(180, 190)}
    assert copies and all({c["id_a"], c["id_b"]} <= copy_ids for c in copies)
    assert json.loads((out / "labels.json").read_text())["duplicates"]["by_pair"]

    bundle = tmp_path / "deduped"
    res = cli("train", "--data", str(data), "--model", "cnn", "--epochs", "1", "--dedupe", "--out",
              str(bundle),
              "--quiet")
    assert res.code == 0, res.err
    meta = json.loads((bundle / "robustune.json").read_text())
    assert "dedupe: 9 near-copies of other examples removed before splitting" in meta["data"]["notes"]
    assert sum(meta["data"]["splits"].values()) == 181
    res = cli("evaluate", str(bundle), "--data", str(data), "--json")
    assert res.code == 0, res.err
    held = json.loads(res.out)
    assert held["split"] == "holdout" and held["n"] == meta["data"]["splits"]["test"]  # the same holdout
