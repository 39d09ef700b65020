"""Occlusion (Zeiler and Fergus 2014): the logit drop when a square window turns black."""

from __future__ import annotations

from typing import Any

from captum.attr import Occlusion
from torch import Tensor, nn

from explain.base import Explainer

PER_EVAL = 16  # occluded copies per forward pass


class OcclusionExplainer(Explainer):
    """A ``window`` x ``window`` black patch slid by ``stride`` over all channels at once."""

    name = "occlusion"

    def captum(self, model: nn.Module) -> Any:
        return Occlusion(model)

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        c, h, w = x.shape[1:]
        win, stride = min(self.cfg.window, h, w), self.cfg.stride
        return {"sliding_window_shapes": (c, win, win), "strides": (c, stride, stride), "baselines": 0.0,
                "perturbations_per_eval": PER_EVAL}

    def passes_per_input(self) -> int:
        return PER_EVAL


explainer = OcclusionExplainer
