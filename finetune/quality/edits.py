"""What a user feeds back after ``robustune labels``: ``--drop FILE`` leaves the listed training and
validation examples out, ``--relabel FILE`` gives them the label in the file's ``suggested`` column.

The file is a CSV with an ``id`` column (the ids ``labels`` writes: an image's path in an image folder,
else the example's position in the source); the holdout is never edited, so accuracies stay comparable.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import torch

from finetune.data.config import DataOptions
from finetune.data.splits import Splits
from finetune.data.types import Data
from plugins.errors import InvalidInput, NotFound, opt


def read_edits(path: Path, flag: str, needs: tuple[str, ...]) -> list[dict[str, str]]:
    """The CSV's rows; a missing file, or a missing column, is one line naming the fix."""
    if not path.is_file():
        raise NotFound(f"{opt(flag)} {path} does not exist; pass the CSV robustune labels wrote (or your "
                       "edit of it)", field=flag)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = [dict(r) for r in reader]
            columns = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{opt(flag)} {path} is not a readable CSV ({exc}); save it as UTF-8 CSV",
                           field=flag) from None
    missing = [c for c in needs if c not in columns]
    if missing:
        raise InvalidInput(f"{opt(flag)} {path} has no column {', '.join(missing)} (its columns: "
                           f"{', '.join(columns) or 'none'}); keep the columns robustune labels wrote",
                           field=flag)
    return [r for r in rows if (r.get("id") or "").strip()]


def _where(splits: Splits) -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    for name in ("train", "val", "test"):
        data = getattr(splits, name)
        for i, ident in enumerate(data.ids or []):
            found[ident] = (name, i)
    return found


def _locate(rows: list[dict[str, str]], splits: Splits, flag: str,
            notes: list[str]) -> dict[str, list[tuple[int, dict[str, str]]]]:
    where = _where(splits)
    unknown = [r["id"].strip() for r in rows if r["id"].strip() not in where]
    if unknown:
        listed = ", ".join(unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        raise InvalidInput(f"{opt(flag)}: {len(unknown)} ids are not examples of this data ({listed}); pass "
                           "the file robustune labels wrote for "
                           "the same data and split options", field=flag)
    picked: dict[str, list[tuple[int, dict[str, str]]]] = {"train": [], "val": []}
    held = 0
    for r in rows:
        split, i = where[r["id"].strip()]
        if split == "test":
            held += 1
        else:
            picked[split].append((i, r))
    if held:
        notes.append(f"{opt(flag)}: {held} listed holdout examples left as they are (the holdout is never "
                     "edited)")
    return picked


def _drop(data: Data, index: list[int]) -> Data:
    keep = sorted(set(range(len(data))) - set(index))
    return data.subset(keep)


def _relabel(data: Data, changes: list[tuple[int, dict[str, str]]], flag: str) -> tuple[Data, int]:
    labels = data.labels.clone()
    changed = 0
    for i, row in changes:
        name = (row.get("suggested") or "").strip()
        if not name:
            continue
        if name not in data.classes:
            raise InvalidInput(f"{opt(flag)}: id {row['id'].strip()} is given class {name!r}, which the data "
                               f"does not have (classes: {', '.join(data.classes[:10])})", field=flag)
        new = data.classes.index(name)
        changed += int(new != int(labels[i]))
        labels[i] = new
    edited = data.subset(range(len(data)))
    edited.labels = torch.as_tensor(labels)
    return edited, changed


def apply_edits(splits: Splits, options: DataOptions) -> Splits:
    """The splits with ``options.relabel`` and ``options.drop`` applied to training and validation."""
    if not options.relabel and not options.drop:
        return splits
    notes = list(splits.notes)
    train, val = splits.train, splits.val
    if options.relabel:
        rows = read_edits(Path(options.relabel), "relabel", ("id", "suggested"))
        picked = _locate(rows, replace(splits, train=train, val=val), "relabel", notes)
        train, n_train = _relabel(train, picked["train"], "relabel")
        val, n_val = _relabel(val, picked["val"], "relabel")
        notes.append(f"relabel: {n_train + n_val} labels changed as {options.relabel} says")
    if options.drop:
        rows = read_edits(Path(options.drop), "drop", ("id",))
        picked = _locate(rows, replace(splits, train=train, val=val), "drop", notes)
        train = _drop(train, [i for i, _ in picked["train"]])
        val = _drop(val, [i for i, _ in picked["val"]])
        notes.append(f"drop: {len(picked['train']) + len(picked['val'])} examples left out as {options.drop} "
                     "says")
    if not len(val) or not len(train):
        raise InvalidInput("the edits leave no training or validation examples; list fewer ids", field="drop")
    return replace(splits, train=train, val=val, notes=notes)
