"""What a data source and the splits are told: CSV columns, unreadable images, split fractions and caps.

Declarations only (no torch, no numpy): run configs nest them, and the CLI and the service read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plugins.schema import option, require


@dataclass(frozen=True)
class DataOptions:
    """Options for data sources: CSV column names and what to do with unreadable images."""

    text_column: str = option("text", min_length=1, help="CSV: the text column")
    label_column: str = option("label", min_length=1, help="CSV: the label column")
    skip_corrupt: bool = option(False, help="skip unreadable images (their count is reported and stored)")
    group_column: str | None = option(None, min_length=1,
                                      help="CSV: a column naming each row's group (bias metrics)",
                                      cli=False)
    groups_file: str | None = option(None, ref="upload", help="images: a CSV of path,group (bias metrics)",
                                     cli=False, service=True)
    image_side: int | None = option(None, ge=1, help="set by the run: images are reduced on load toward the "
                                               "model's input size", cli=False)
    relabel: str | None = option(None, ref="upload",
                                 help="a CSV of id,suggested (robustune labels writes one; edit it): give "
                                      "those training and validation examples the suggested label")
    drop: str | None = option(None, ref="upload",
                              help="a CSV with an id column (robustune labels writes one; edit it): leave "
                                   "those training and validation examples out")

    def __post_init__(self) -> None:
        require(self, [])


@dataclass(frozen=True)
class SplitConfig:
    """Fractions are of the labeled pool; ``per_class`` caps labeled examples per class."""

    val_fraction: float = option(0.2, gt=0, lt=1, help="validation share of the labeled set (stratified)")
    test_fraction: float = option(0.2, gt=0, lt=1,
                                  help="holdout share when the dataset has no test split of its own")
    seed: int = option(0, ge=0, le=2**32 - 1, help="splits, initialization, order, dropout and augmentation")
    per_class: int | None = option(None, ge=2, help="labeled examples per class (training + validation); all "
                                              "if unset")
    test_per_class: int | None = option(None, ge=1, help="cap the holdout per class")
    labeled_per_class: int | None = option(None, ge=1,
                                           help="keep N labels per class in the training split; the "
                                                "rest of it becomes unlabeled data (semi-gan)")
    dedupe: bool = option(False, help="before splitting, remove near-copies (cosine >= 0.99 of pixels or "
                                      "TF-IDF) of other examples, so no holdout example copies a training "
                                      "one")

    def __post_init__(self) -> None:
        require(self, [])


def data_name(data: str) -> str:
    """A data source, short: ``imagefolder:/a/b/flowers`` -> ``imagefolder:flowers``."""
    kind, sep, where = data.partition(":")
    return f"{kind}:{Path(where).name or where}" if sep and where else data
