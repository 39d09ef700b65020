"""How unlike the training data an input is, from the model's own logits: the energy score (Liu et al.
2020), -logsumexp(logits), higher for unfamiliar inputs; the threshold keeps 95% of familiar
(validation) inputs."""

from __future__ import annotations

import torch
from torch import Tensor

KEPT = 0.95  # share of familiar inputs below the threshold


def energy(logits: Tensor) -> Tensor:
    """Energy score, higher for unfamiliar inputs. Shape: (N, K) -> (N,)."""
    return -torch.logsumexp(logits.double(), dim=1)


def threshold(familiar: Tensor, kept: float = KEPT) -> float:
    """The score under which ``kept`` of the familiar inputs fall. Shape: (N,) -> scalar."""
    return float(torch.quantile(familiar.double(), kept))
