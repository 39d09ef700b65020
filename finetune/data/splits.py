"""Deterministic, stratified train / validation / holdout-test splits from a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from finetune.data.config import SplitConfig
from finetune.data.types import Data, SourceData, class_counts
from plugins.errors import InvalidInput, opt


@dataclass
class Splits:
    """The three splits, and notes on how they were made."""

    train: Data
    val: Data
    test: Data
    notes: list[str]
    unlabeled: Data | None = None  # training examples whose labels are set aside

    def sizes(self) -> dict[str, int]:
        """Examples per split."""
        sizes = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        return sizes | ({"unlabeled": len(self.unlabeled)} if self.unlabeled is not None else {})


def _by_class(labels: Tensor, rng: np.random.Generator) -> list[np.ndarray]:
    y = labels.numpy()
    return [rng.permutation(np.flatnonzero(y == k)) for k in range(int(y.max()) + 1)]


def stratified_take(
    labels: Tensor, rng: np.random.Generator, fraction: float | None = None, count: int | None = None
) -> tuple[list[int], list[int]]:
    """Split indices per class: ``count`` or ``fraction`` of each class first, the rest second."""
    taken: list[int] = []
    rest: list[int] = []
    for idx in _by_class(labels, rng):
        if count is not None:
            n = min(count, len(idx))
        else:
            n = int(round(len(idx) * (fraction or 0.0)))
            if fraction and len(idx) > 1:
                n = min(max(n, 1), len(idx) - 1)
        taken += idx[:n].tolist()
        rest += idx[n:].tolist()
    return sorted(taken), sorted(rest)


def with_ids(data: Data, prefix: str) -> Data:
    """``data`` with each example's id: its file path (image folders), else ``prefix`` + its position."""
    if data.ids is None:
        names = getattr(data, "names", None)
        data.ids = list(names) if names is not None else [f"{prefix}{i}" for i in range(len(data))]
    return data


def _dedupe(pool: Data, test: Data | None) -> tuple[Data, Data | None, list[str]]:
    """``--dedupe``: without the near-copies of other examples (in the pool, and the test split's copies of
    pool examples), with what was removed said."""
    from finetune.quality.duplicates import copies_of, repeats

    notes = []
    again = repeats(pool)
    if again:
        keep = sorted(set(range(len(pool))) - set(again))
        pool = pool.subset(keep)
        notes.append(f"dedupe: {len(again)} near-copies of other examples removed before splitting")
    if test is not None:
        test = with_ids(test, "test:")
        copied = copies_of(test, pool)
        if copied:
            test = test.subset(sorted(set(range(len(test))) - set(copied)))
            notes.append(f"dedupe: {len(copied)} holdout examples that copy training ones removed")
    if not notes:
        notes.append("dedupe: no near-copies found")
    return pool, test, notes


def make_splits(source: SourceData, cfg: SplitConfig) -> Splits:
    """Holdout from the dataset's own test split or a stratified share; then train / val."""
    rng = np.random.default_rng(cfg.seed)
    notes: list[str] = list(source.pool.notes)
    pool = with_ids(source.pool, "")
    if cfg.dedupe:
        pool, test_source, said = _dedupe(pool, source.test)
        notes += said
    else:
        test_source = with_ids(source.test, "test:") if source.test is not None else None
    if test_source is not None:
        test = test_source
        notes.append("holdout: the dataset's own test split")
    else:
        test_idx, rest_idx = stratified_take(pool.labels, rng, fraction=cfg.test_fraction)
        test, pool = pool.subset(test_idx), pool.subset(rest_idx)
        notes.append(f"holdout: stratified {cfg.test_fraction:.0%} of the data (seed {cfg.seed})")
    if cfg.test_per_class is not None:
        test = test.subset(stratified_take(test.labels, rng, count=cfg.test_per_class)[0])
        notes.append(f"holdout capped at {cfg.test_per_class} per class")
    if cfg.per_class is not None:
        short = {c: n for c, n in class_counts(pool).items() if n < cfg.per_class}
        if short:
            raise InvalidInput(
                f"{opt('per_class')} {cfg.per_class} needs more examples than classes {sorted(short)} have "
                f"(fewest: {min(short.values())}); lower it", field="per_class")
        pool = pool.subset(stratified_take(pool.labels, rng, count=cfg.per_class)[0])
        notes.append(f"labeled set: {cfg.per_class} per class")
    val_idx, train_idx = stratified_take(pool.labels, rng, fraction=cfg.val_fraction)
    if not val_idx or not train_idx:
        raise InvalidInput("too few examples to make both a training and a validation split; label more data "
                           f"or raise {opt('val_fraction')}", field="val_fraction")
    train, val = pool.subset(train_idx), pool.subset(val_idx)
    unlabeled = None
    if cfg.labeled_per_class is not None:
        short = {c: n for c, n in class_counts(train).items() if n <= cfg.labeled_per_class}
        if short:
            raise InvalidInput(
                f"{opt('labeled_per_class')} {cfg.labeled_per_class} leaves no unlabeled examples of classes "
                f"{sorted(short)} (fewest in training: {min(short.values())}); lower it",
                field="labeled_per_class")
        lab_idx, unl_idx = stratified_take(train.labels, rng, count=cfg.labeled_per_class)
        train, unlabeled = train.subset(lab_idx), train.subset(unl_idx)
        notes.append(f"training labels: {cfg.labeled_per_class} per class ({len(train)}); the other "
                     f"{len(unlabeled)} training examples are unlabeled")
    return Splits(train, val, test, notes, unlabeled)
