"""DeepLIFT (Shrikumar et al. 2017) with the rescale rule, from a black image."""

from __future__ import annotations

import copy
from typing import Any

import torch
from captum.attr import DeepLift
from torch import Tensor, nn

from explain.base import Explainer


def without_inplace(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose activations do not work in place (Captum's hooks need that)."""
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if getattr(module, "inplace", False):
            module.inplace = False  # type: ignore[assignment]
    return clone


class DeepLiftExplainer(Explainer):
    """Differences from a black reference, propagated with multipliers."""

    name = "deeplift"

    def captum(self, model: nn.Module) -> Any:
        return DeepLift(without_inplace(model))

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"baselines": torch.zeros_like(x)}


explainer = DeepLiftExplainer
