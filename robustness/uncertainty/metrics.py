"""How trustworthy probabilities and scores are: ECE, NLL, the reliability curve, AUROC, FPR at 95% TPR."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

BINS = 15  # the usual number of equal-width confidence bins for ECE


def nll(logits: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood of the labels. Shape: (N, K), (N,) -> scalar."""
    return float(F.cross_entropy(logits.double(), labels))


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: mean confidence, accuracy and count (empty bins have count 0)."""

    edges: list[float]
    confidence: list[float]
    accuracy: list[float]
    count: list[int]

    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean |accuracy - confidence| over the bins."""
        n = sum(self.count)
        return sum(c * abs(a - p) for a, p, c in zip(self.accuracy, self.confidence, self.count,
                                                      strict=True)) / max(n, 1)


def reliability(probs: Tensor, labels: Tensor, bins: int = BINS) -> Reliability:
    """The reliability curve of top-1 probabilities in ``bins`` equal-width bins. Shape: (N, K), (N,)."""
    conf, pred = probs.max(1)
    right = (pred == labels).double()
    index = torch.clamp((conf.double() * bins).ceil().long() - 1, 0, bins - 1)  # (0, 1/b] is bin 0
    count = torch.bincount(index, minlength=bins)
    total_conf = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, conf.double())
    total_right = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, right)
    safe = count.clamp_min(1).double()
    return Reliability([i / bins for i in range(bins + 1)], (total_conf / safe).tolist(),
                       (total_right / safe).tolist(), count.tolist())


def ece(probs: Tensor, labels: Tensor, bins: int = BINS) -> float:
    """Expected calibration error of top-1 probabilities (``bins`` equal-width bins). Shape: (N, K), (N,)."""
    return reliability(probs, labels, bins).ece()


def auroc(familiar: Tensor, unfamiliar: Tensor) -> float:
    """Area under the ROC curve of a score that should be higher for unfamiliar inputs (ties count half).

    Shape: (N,), (M,) -> scalar.
    """
    scores = torch.cat([familiar, unfamiliar]).double()
    ranks = _average_ranks(scores)
    m, n = len(unfamiliar), len(familiar)
    if m == 0 or n == 0:
        raise ValueError("AUROC needs familiar and unfamiliar scores")
    return float((ranks[n:].sum() - m * (m + 1) / 2) / (m * n))


def _average_ranks(x: Tensor) -> Tensor:
    """1-based ranks, ties given their average rank. Shape: (N,) -> (N,)."""
    order = torch.argsort(x, stable=True)
    sorted_x = x[order]
    ranks = torch.empty_like(x)
    ranks[order] = torch.arange(1, len(x) + 1, dtype=x.dtype)
    uniq, inverse, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts + 1
    mean_rank = first.double() + (counts.double() - 1) / 2
    ranks[order] = mean_rank[inverse]
    return ranks


def fpr_at_tpr(familiar: Tensor, unfamiliar: Tensor, tpr: float = 0.95) -> float:
    """The share of familiar inputs flagged when the threshold flags ``tpr`` of the unfamiliar ones.

    Shape: (N,), (M,) -> scalar.
    """
    threshold = torch.quantile(unfamiliar.double(), 1 - tpr)
    return float((familiar.double() >= threshold).double().mean())
