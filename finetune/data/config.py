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

    text_column: str = option("text", help="CSV: the text column")
    label_column: str = option("label", help="CSV: the label column")
    skip_corrupt: bool = option(False, help="skip unreadable images (their count is reported and stored)")
    group_column: str | None = option(None, help="CSV: a column naming each row's group (bias metrics)",
                                      cli=False)
    groups_file: str | None = option(None, ref="upload", help="images: a CSV of path,group (bias metrics)",
                                     cli=False, service=True)
    image_side: int | None = option(None, help="set by the run: images are reduced on load toward the "
                                               "model's input size", cli=False)

    def __post_init__(self) -> None:
        def filled(name: str) -> bool:
            value = getattr(self, name)
            return value is None or bool(value.strip())

        require(self, [(name, filled(name), "must not be empty")
                       for name in ("text_column", "label_column", "group_column")])
        require(self, [("image_side", self.image_side is None or self.image_side >= 1, "must be at least 1")])


@dataclass(frozen=True)
class SplitConfig:
    """Fractions are of the labeled pool; ``per_class`` caps labeled examples per class."""

    val_fraction: float = option(0.2, help="validation share of the labeled set (stratified)")
    test_fraction: float = option(0.2, help="holdout share when the dataset has no test split of its own")
    seed: int = option(0, help="splits, initialization, order, dropout and augmentation")
    per_class: int | None = option(None, help="labeled examples per class (training + validation); all "
                                              "if unset")
    test_per_class: int | None = option(None, help="cap the holdout per class")
    labeled_per_class: int | None = option(None, help="keep N labels per class in the training split; the "
                                                      "rest of it becomes unlabeled data (semi-gan)")

    def __post_init__(self) -> None:
        def at_least(value: int | None, least: int) -> bool:
            return value is None or value >= least

        require(self, [("val_fraction", 0.0 < self.val_fraction < 1.0, "must be between 0 and 1"),
                       ("test_fraction", 0.0 < self.test_fraction < 1.0, "must be between 0 and 1"),
                       ("seed", 0 <= self.seed < 2**32, "must be between 0 and 2**32 - 1"),
                       ("per_class", at_least(self.per_class, 2),
                        "must be at least 2 (train and validation)"),
                       ("labeled_per_class", at_least(self.labeled_per_class, 1), "must be at least 1"),
                       ("test_per_class", at_least(self.test_per_class, 1), "must be at least 1")])


def data_name(data: str) -> str:
    """A data source, short: ``imagefolder:/a/b/flowers`` -> ``imagefolder:flowers``."""
    kind, sep, where = data.partition(":")
    return f"{kind}:{Path(where).name or where}" if sep and where else data
