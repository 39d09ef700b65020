"""Confident learning (Northcutt, Jiang and Chuang 2021, "Confident Learning: Estimating Uncertainty in
Dataset Labels") on out-of-sample predicted probabilities: each class's threshold is the mean probability
the model gives it on the examples labeled with it; an example whose confident class (the likeliest class
whose probability reaches its threshold) is not its given label counts toward the number of label issues,
N (the off-diagonal of the confident joint). The list is the N examples with the lowest self-confidence
(the probability of their given label), lowest first: on 10% flipped Fashion-MNIST labels this list held
68% flips where the confident-joint set itself held 52% (``bench/bench_labels.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Issues:
    """Per example: the suggested label and the self-confidence; which are listed as issues, and the full
    ranking (by self-confidence, lowest first: the listed ones come first)."""

    thresholds: Tensor  # (K,)
    suggested: Tensor  # (N,) the confident other class, else the likeliest other class
    self_confidence: Tensor  # (N,)
    flagged: Tensor  # (N,) bool: the listed issues
    order: Tensor  # (N,) example indices by self-confidence, lowest first
    counted: int  # the confident joint's off-diagonal count: how many issues there are estimated to be

    def top(self, k: int) -> Tensor:
        """The ``k`` examples most likely mislabeled."""
        return self.order[:k]


def thresholds(probs: Tensor, labels: Tensor) -> Tensor:
    """Per class, the mean probability of that class over the examples labeled with it.

    Shape: probs (N, K), labels (N,) -> (K,); a class with no examples gets 1 (never confident).
    """
    k = probs.shape[1]
    out = torch.ones(k, dtype=probs.dtype)
    for c in range(k):
        mask = labels == c
        if mask.any():
            out[c] = probs[mask, c].mean()
    return out


def find_issues(probs: Tensor, labels: Tensor) -> Issues:
    """Likely label issues among examples with out-of-sample ``probs``.

    Shape: probs (N, K) rows summing to 1, labels (N,) -> Issues over N.
    """
    probs = probs.double()
    t = thresholds(probs, labels)
    confident = probs >= t  # (N, K): classes the example is confidently in
    scored = torch.where(confident, probs, torch.full_like(probs, -1.0))
    has = confident.any(1)
    confident_class = torch.where(has, scored.argmax(1), labels)
    flagged = has & (confident_class != labels)
    self_conf = probs.gather(1, labels[:, None])[:, 0]
    others = probs.scatter(1, labels[:, None], -1.0)
    suggested = torch.where(flagged, confident_class, others.argmax(1))
    order = torch.argsort(self_conf, stable=True)
    counted = int(flagged.sum())
    listed = torch.zeros_like(flagged)
    listed[order[:counted]] = True
    return Issues(t.float(), suggested, self_conf.float(), listed, order, counted)
