"""Square attack (Andriushchenko et al. 2020): black-box, model queries only, Linf."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class Square(Attack):
    """Square attack (Andriushchenko et al. 2020): black-box, model queries only, Linf."""

    name = "square"
    needs_gradients = False

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        c = self.cfg
        return torchattacks.Square(model, norm="Linf", eps=c.eps, n_queries=c.n_queries, n_restarts=1,
                                   seed=c.seed, verbose=False)(x, y)


attack = Square
