"""Split conformal prediction sets (Vovk et al. 2005; APS: Romano et al. 2020; RAPS: Angelopoulos et al.
2021): a conformity score per (input, label) on calibration examples, one quantile, and per new input the
labels whose score is within it. Under exchangeability the set holds the true label with probability at
least the coverage asked for.

Scores are plugins of kind ``conformal-score`` (``scores(probs, u) -> (N, K)``: higher is less
conforming); ``u`` is one uniform draw per input for the randomized ones, from a seeded generator.
Sets always hold the top-1 label, and the guarantee is kept exact rather than loosened by it: the
score of an input's top-1 label is taken as 0 (at most any quantile), on calibration examples as on new
inputs, so a calibration example whose label is its top-1 counts as covered, as it will be. Forcing the
top-1 into sets after the fact (the usual way to avoid empty sets) covers more than asked, with larger
sets; this way coverage stays at the target unless the model's accuracy alone is above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from plugins.errors import InvalidInput


class Score(Protocol):
    """A conformity score: how unusual each label is for each input (higher: less conforming)."""

    name: str

    def scores(self, probs: Tensor, u: Tensor) -> Tensor:
        """Shape: probs (N, K), u (N,) in [0, 1) -> (N, K)."""
        ...


def draws(n: int, seed: int) -> Tensor:
    """One uniform draw per input for the randomized scores. Shape: -> (n,)."""
    return torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def smallest_calibration(coverage: float) -> int:
    """The fewest calibration examples for which a ``coverage`` set is not every label: n >= 1/alpha - 1."""
    return math.ceil(round(1 / (1 - coverage) - 1, 9))  # rounded: 1 / 0.1 is 10.000000000000002


def check_calibration(n: int, coverage: float) -> None:
    """Refuse, in one line, a coverage the calibration examples cannot give."""
    if not 0 < coverage < 1:
        raise InvalidInput(f"coverage {coverage:g} must be between 0 and 1 (e.g. 0.9)", field="coverage")
    need = smallest_calibration(coverage)
    if n < need:
        raise InvalidInput(f"coverage {coverage:g} needs at least {need} calibration examples but the "
                           f"validation share has {n}; ask for less coverage or train with more "
                           "validation examples", field="coverage")


def quantile(calibration: Tensor, coverage: float) -> float:
    """The conformal quantile: the ceil((n + 1) * coverage)-th smallest calibration score.

    Shape: (n,) -> scalar.
    """
    n = len(calibration)
    check_calibration(n, coverage)
    k = min(n, math.ceil(round((n + 1) * coverage, 9)))
    return float(torch.sort(calibration.double()).values[k - 1])


def top_first_scores(score: Score, probs: Tensor, u: Tensor) -> Tensor:
    """The score of every label, the top-1's lowered to at most 0, so every set holds it. Shape: (N, K),
    (N,) -> (N, K)."""
    probs = probs.double()
    out = score.scores(probs, u).clone()
    top = probs.argmax(1, keepdim=True)
    return out.scatter_(1, top, out.gather(1, top).clamp_max(0.0))


def label_scores(score: Score, probs: Tensor, labels: Tensor, u: Tensor) -> Tensor:
    """Each calibration example's score at its true label. Shape: (N, K), (N,), (N,) -> (N,)."""
    return top_first_scores(score, probs, u).gather(1, labels.view(-1, 1)).squeeze(1)


def prediction_sets(score: Score, probs: Tensor, q: float, u: Tensor) -> Tensor:
    """Which labels are in each input's set (the top-1 always is). Shape: (N, K), (N,) -> (N, K) bool."""
    inside = top_first_scores(score, probs, u) <= q + 1e-12
    inside[torch.arange(len(probs)), probs.argmax(1)] = True  # a plugin's quantile below 0
    return inside


@dataclass(frozen=True)
class Evaluation:
    """Empirical coverage and mean set size, overall and per class."""

    coverage: float
    mean_size: float
    per_class: dict[int, dict[str, float]]


def evaluate_sets(sets: Tensor, labels: Tensor) -> Evaluation:
    """Coverage (share of inputs whose set holds their label) and mean set size. Shape: (N, K), (N,)."""
    hit = sets.gather(1, labels.view(-1, 1)).squeeze(1).double()
    size = sets.sum(1).double()
    per_class = {int(k): {"coverage": float(hit[labels == k].mean()),
                          "mean_size": float(size[labels == k].mean()), "n": int((labels == k).sum())}
                 for k in labels.unique()}
    return Evaluation(float(hit.mean()), float(size.mean()), per_class)
