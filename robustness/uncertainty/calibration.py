"""Temperature scaling (Guo et al. 2017): one parameter fitted on validation logits by the NLL.

Dividing every logit by one positive temperature keeps each input's order of classes, so the top-1
label never changes; only how sure the probabilities are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

T_MIN, T_MAX = 0.05, 20.0  # the temperatures searched (a model this far off is reported, not trusted)


def _nll_at(logits: Tensor, labels: Tensor, t: float) -> float:
    return float(F.cross_entropy(logits / t, labels))


def fit_temperature(logits: Tensor, labels: Tensor, iterations: int = 80) -> float:
    """The temperature in [T_MIN, T_MAX] that minimises the NLL of ``labels`` (golden-section search on
    the inverse temperature, where the NLL is convex). Shape: (N, K), (N,) -> scalar."""
    z = logits.double()
    lo, hi = 1 / T_MAX, 1 / T_MIN
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = _nll_at(z, labels, 1 / a), _nll_at(z, labels, 1 / b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = _nll_at(z, labels, 1 / a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = _nll_at(z, labels, 1 / b)
    return float(1 / ((lo + hi) / 2))


HELD_OUT_GAIN = 0.01  # the share of held-out NLL a temperature must remove to be kept


def helps_held_out(logits: Tensor, labels: Tensor, seed: int = 0) -> bool:
    """Whether a temperature fitted on one half of the examples lowers the NLL of the other half by at
    least 1%, summed over both ways (two-fold cross-fitting): on a small split a fitted temperature can
    chase noise, and one that does not clearly help examples it was not fitted on is not kept (a
    calibrated model keeps 1). Shape: (N, K), (N,)."""
    n = len(labels)
    if n < 4:
        return False
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    halves = (order[: n // 2], order[n // 2 :])
    z = logits.double()
    before = after = 0.0
    for fit, held in (halves, halves[::-1]):
        t = fit_temperature(z[fit], labels[fit])
        before += _nll_at(z[held], labels[held], 1.0) * len(held)
        after += _nll_at(z[held], labels[held], t) * len(held)
    return after < before * (1 - HELD_OUT_GAIN)


def calibrate(logits: Tensor, temperature: float) -> Tensor:
    """Calibrated probabilities. Shape: (N, K) -> (N, K)."""
    return torch.softmax(logits.float() / temperature, dim=1)
