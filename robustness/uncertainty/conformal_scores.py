"""The built-in conformity scores: LAC, APS and RAPS (plugins of kind ``conformal-score``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


class LAC:
    """Least ambiguous set-valued classifier (Sadinle et al. 2019): 1 - p(label). Smallest sets on
    average, least adaptive to how hard an input is."""

    name = "lac"

    def scores(self, probs: Tensor, u: Tensor) -> Tensor:
        return 1.0 - probs


def _cumulative(probs: Tensor, u: Tensor, penalty: Tensor | None = None) -> Tensor:
    """Randomized cumulative mass down to each label (sorted by probability), with an optional penalty
    per rank. Shape: (N, K), (N,) -> (N, K)."""
    sorted_p, order = probs.sort(1, descending=True)
    mass = sorted_p.cumsum(1) - u.view(-1, 1) * sorted_p
    if penalty is not None:
        mass = mass + penalty
    return torch.empty_like(probs).scatter_(1, order, mass)


class APS:
    """Adaptive prediction sets (Romano et al. 2020): the probability mass of every label at least as
    likely, the label's own share randomized. Sets grow on hard inputs."""

    name = "aps"

    def scores(self, probs: Tensor, u: Tensor) -> Tensor:
        return _cumulative(probs, u)


@dataclass(frozen=True)
class RAPSOptions:
    """RAPS: ``penalty`` per label beyond the first ``k_reg`` (sorted by probability)."""

    penalty: float = 0.01
    k_reg: int = 5


class RAPS:
    """Regularized APS (Angelopoulos et al. 2021): APS plus a penalty on unlikely labels, for many
    classes, where APS sets grow long tails."""

    name = "raps"
    options = RAPSOptions

    def __init__(self, opts: RAPSOptions | None = None) -> None:
        self.opts = opts or RAPSOptions()

    def scores(self, probs: Tensor, u: Tensor) -> Tensor:
        ranks = torch.arange(1, probs.shape[1] + 1, dtype=probs.dtype, device=probs.device)
        penalty = self.opts.penalty * (ranks - self.opts.k_reg).clamp_min(0)
        return _cumulative(probs, u, penalty.view(1, -1))


lac, aps, raps = LAC, APS, RAPS
