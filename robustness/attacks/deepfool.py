"""DeepFool (L2, minimal); a perturbation larger than eps counts as a failure."""

from __future__ import annotations

import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class DeepFool(Attack):
    """DeepFool (L2, minimal); a perturbation larger than eps counts as a failure."""

    name = "deepfool"
    norm = "L2"
    minimal_norm = True

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        out = torchattacks.DeepFool(model, steps=max(self.cfg.steps, 50), overshoot=0.02)(x, y)
        return out[0] if isinstance(out, tuple) else out


attack = DeepFool
