"""Carlini-Wagner L2; a perturbation larger than eps counts as a failure."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class CW(Attack):
    """Carlini-Wagner L2; a perturbation larger than eps counts as a failure."""

    name = "cw"
    norm = "L2"
    minimal_norm = True

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return torchattacks.CW(model, c=1.0, kappa=0.0, steps=max(self.cfg.steps, 50), lr=0.01)(x, y)


attack = CW
