"""Worst case over attacks: per sample, the first attack (in order) that fools the model."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from plugins.registry import registry
from robustness.attacks.base import Attack, AttackConfig

DEFAULT_ORDER = ("fgsm", "pgd", "square")


def first_fooling(model: nn.Module, x: Tensor, y: Tensor, candidates: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Per sample, the first candidate that is misclassified (else the clean input), and which.

    Shape: (N, ...) and k candidates of (N, ...) -> (N, ...), (N,) index in [-1, k).
    """
    out = x.clone()
    which = torch.full((x.shape[0],), -1, dtype=torch.long)
    for i, adv in enumerate(candidates):
        with torch.no_grad():
            fooled = (model(adv).argmax(1) != y).cpu() & (which < 0)
        out[fooled.to(x.device)] = adv[fooled.to(x.device)]
        which[fooled] = i
    return out, which


class WorstCase(Attack):
    """Runs ``fgsm``, ``pgd``, ``square`` in turn and keeps the first success per sample."""

    name = "worst-case"

    def __init__(self, cfg: AttackConfig, order: tuple[str, ...] = DEFAULT_ORDER) -> None:
        super().__init__(cfg)
        self.attacks = [registry.get("attack", name)(cfg) for name in order]

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return first_fooling(model, x, y, [attack(model, x, y) for attack in self.attacks])[0]


attack = WorstCase
