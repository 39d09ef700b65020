"""Bias metrics: accuracy, selection rate and true-positive rate per group, and the largest gaps
between groups (demographic parity and equalized-odds differences, after Fairlearn).

With two classes the "positive" class is the second label unless named; with more, the rates are
taken one class against the rest and the gaps are the largest over classes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from plugins.errors import InvalidInput, opt


def _rate(hits: Tensor, where: Tensor) -> float | None:
    return float(hits[where].float().mean()) if bool(where.any()) else None


def _gap(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return max(present) - min(present) if len(present) >= 2 else 0.0


def group_report(pred: Tensor, labels: Tensor, groups: list[str], classes: list[str],
                 positive: str | None = None) -> dict[str, Any]:
    """Per-group table and largest gaps. Shape: pred (N,), labels (N,), len(groups) == N."""
    if len(groups) != len(labels):
        raise InvalidInput(f"{len(groups)} group values for {len(labels)} examples")
    names = sorted(set(groups))
    if len(names) < 2:
        raise InvalidInput(f"bias metrics need at least two groups, the data has {len(names)}")
    if positive is not None and positive not in classes:
        raise InvalidInput(f"{opt('positive')} {positive!r} is not a class; the classes are "
                           f"{', '.join(classes)}", field='positive')
    pos = classes.index(positive) if positive else 1
    scope = [pos] if len(classes) == 2 or positive else list(range(len(classes)))
    member = {g: torch.tensor([x == g for x in groups]) for g in names}
    rows: list[dict[str, Any]] = []
    for g in names:
        m = member[g]
        rows.append({"group": g, "n": int(m.sum()), "accuracy": _rate(pred == labels, m),
                     "selection_rate": _rate(pred == pos, m),
                     "true_positive_rate": _rate(pred == pos, m & (labels == pos)),
                     "false_positive_rate": _rate(pred == pos, m & (labels != pos))})
    parity, odds = 0.0, 0.0
    for c in scope:
        parity = max(parity, _gap([_rate(pred == c, member[g]) for g in names]))
        tpr = _gap([_rate(pred == c, member[g] & (labels == c)) for g in names])
        fpr = _gap([_rate(pred == c, member[g] & (labels != c)) for g in names])
        odds = max(odds, tpr, fpr)
    return {"positive_class": classes[pos] if len(scope) == 1 else None, "groups": rows,
            "accuracy_gap": _gap([r["accuracy"] for r in rows]),
            "demographic_parity_difference": parity, "equalized_odds_difference": odds}
