"""Input x gradient (Shrikumar et al. 2016)."""

from __future__ import annotations

from typing import Any

from captum.attr import InputXGradient
from torch import nn

from explain.base import Explainer


class InputXGradientExplainer(Explainer):
    """x * d logit / d x."""

    name = "input-x-gradient"

    def captum(self, model: nn.Module) -> Any:
        return InputXGradient(model)


explainer = InputXGradientExplainer
