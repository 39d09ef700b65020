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


def calibrate(logits: Tensor, temperature: float) -> Tensor:
    """Calibrated probabilities. Shape: (N, K) -> (N, K)."""
    return torch.softmax(logits.float() / temperature, dim=1)
