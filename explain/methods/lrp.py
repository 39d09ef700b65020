"""Layer-wise relevance propagation (Bach et al. 2015) with Captum's epsilon rules.

Captum has rules for convolutions, linear layers, pooling, batch norm, ReLU, tanh and dropout
only; a model with any other layer (SiLU, ReLU6, attention, ...) is refused with its names.
Additions written as code (ResNet's skip connections) are invisible to LRP: read its maps on
residual networks with care.
"""

from __future__ import annotations

from typing import Any

from captum.attr import LRP
from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES, SUPPORTED_NON_LINEAR_LAYERS
from torch import nn

from explain.base import Explainer
from explain.methods.deeplift import without_inplace
from plugins.errors import InvalidInput, opt

PASS_THROUGH = (nn.Identity, nn.Flatten)


def unsupported_layers(model: nn.Module) -> list[str]:
    """Type names of the leaf layers Captum's LRP has no rule for."""
    known = (*SUPPORTED_LAYERS_WITH_RULES, *SUPPORTED_NON_LINEAR_LAYERS, *PASS_THROUGH)
    leaves = [m for m in model.modules() if not list(m.children())]
    return sorted({type(m).__name__ for m in leaves if not isinstance(m, known)})


class LRPExplainer(Explainer):
    """Relevance of the target logit propagated back layer by layer (epsilon rule)."""

    name = "lrp"

    def captum(self, model: nn.Module) -> Any:
        missing = unsupported_layers(model)
        if missing:
            raise InvalidInput(f"lrp: Captum has no LRP rule for {', '.join(missing)} in this model; "
                               f"use {opt('method')} integrated-gradients (deeplift falls back to plain "
                               "gradients where it has no rule: on ReLU6 networks such as EfficientNet it "
                               "gives Input x Gradient's maps)")
        clone = without_inplace(model)
        for module in clone.modules():
            if isinstance(module, PASS_THROUGH):
                module.rule = None  # type: ignore[assignment]
        return LRP(clone)


explainer = LRPExplainer
