"""GradientSHAP (Lundberg and Lee 2017): expected gradients from black and white baselines."""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import GradientShap
from torch import Tensor, nn

from explain.base import Explainer


class GradientShapExplainer(Explainer):
    """``n_samples`` noisy points between the input and a black or white image."""

    name = "gradient-shap"

    def captum(self, model: nn.Module) -> Any:
        return GradientShap(model)

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        baselines = torch.stack([torch.zeros_like(x[0]), torch.ones_like(x[0])])
        return {"baselines": baselines, "n_samples": self.cfg.n_samples, "stdevs": self.cfg.stdevs}

    def passes_per_input(self) -> int:
        return self.cfg.n_samples


explainer = GradientShapExplainer
