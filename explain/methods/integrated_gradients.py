"""Integrated gradients (Sundararajan et al. 2017) from a black image, internal batch sized to memory."""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import IntegratedGradients
from torch import Tensor, nn

from explain.base import Explainer, auto_internal_batch


class IntegratedGradientsExplainer(Explainer):
    """Path integral of gradients from a black image to the input (``n_steps``, Gauss-Legendre)."""

    name = "integrated-gradients"

    def captum(self, model: nn.Module) -> Any:
        return IntegratedGradients(model)

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        size = self.cfg.internal_batch_size or auto_internal_batch(model, x, self.cfg.n_steps)
        return {"baselines": torch.zeros_like(x), "n_steps": self.cfg.n_steps, "internal_batch_size": size}


explainer = IntegratedGradientsExplainer
