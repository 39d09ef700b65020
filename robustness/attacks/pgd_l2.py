"""Projected gradient descent in the L2 ball."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class PGDL2(Attack):
    """Projected gradient descent in the L2 ball."""

    name = "pgd-l2"
    norm = "L2"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        c = self.cfg
        return torchattacks.PGDL2(model, eps=c.eps, alpha=c.step_size, steps=c.steps,
                                  random_start=True)(x, y)


attack = PGDL2
