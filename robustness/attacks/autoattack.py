"""AutoAttack, standard version (APGD-CE, APGD-T, FAB-T, Square), Linf."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class AutoAttack(Attack):
    """AutoAttack, standard version (APGD-CE, APGD-T, FAB-T, Square), Linf."""

    name = "autoattack"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        n_classes = int(model(x[:1]).shape[1])
        return torchattacks.AutoAttack(model, norm="Linf", eps=self.cfg.eps, version="standard",
                                       n_classes=n_classes, seed=self.cfg.seed)(x, y)


attack = AutoAttack
