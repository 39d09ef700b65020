"""Fast gradient sign method (Goodfellow et al. 2015), Linf."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class FGSM(Attack):
    """Fast gradient sign method (Goodfellow et al. 2015), Linf."""

    name = "fgsm"

    def cost(self) -> int:
        return 1

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return torchattacks.FGSM(model, eps=self.cfg.eps)(x, y)


attack = FGSM
