"""Saliency: the absolute input gradient of the target logit (Simonyan et al. 2014)."""

from __future__ import annotations

from typing import Any

from captum.attr import Saliency
from torch import Tensor, nn

from explain.base import Explainer


class SaliencyExplainer(Explainer):
    """|d logit / d x|."""

    name = "saliency"

    def captum(self, model: nn.Module) -> Any:
        return Saliency(model)

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"abs": True}


explainer = SaliencyExplainer
