"""Projected gradient descent with a random start (Madry et al. 2018), Linf."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class PGD(Attack):
    """Projected gradient descent with a random start (Madry et al. 2018), Linf."""

    name = "pgd"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        c = self.cfg
        return torchattacks.PGD(model, eps=c.eps, alpha=c.step_size, steps=c.steps, random_start=True)(x, y)


attack = PGD
