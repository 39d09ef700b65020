"""Grad-CAM (Selvaraju et al. 2017) on the last convolutional stage, upsampled to the input.

The layer is found automatically: the last stage a timm model lists in ``feature_info``
(ResNet ``layer4``, VGG ``features.30``, EfficientNet ``blocks.6``), else the last Conv2d of the
model (torchvision and from-scratch CNNs). ``--layer NAME`` overrides it.
"""

from __future__ import annotations

import difflib
from typing import Any

from captum.attr import LayerAttribution, LayerGradCam
from torch import Tensor, nn

from explain.base import Explainer
from plugins.errors import InvalidInput, opt


def find_layer(model: nn.Module, name: str | None = None) -> tuple[str, nn.Module]:
    """(name, module) of the layer Grad-CAM looks at."""
    modules = dict(model.named_modules())
    if name is not None:
        if name not in modules:
            close = difflib.get_close_matches(name, list(modules), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see model.named_modules()"
            raise InvalidInput(f"the model has no layer {name!r}; {hint}")
        return name, modules[name]
    for prefix, module in modules.items():
        info = getattr(module, "feature_info", None)
        if isinstance(info, list) and info and "module" in info[-1]:
            full = f"{prefix}.{info[-1]['module']}" if prefix else str(info[-1]["module"])
            return full, modules[full]
    convs = [(n, m) for n, m in modules.items() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise InvalidInput("gradcam needs a convolution layer and this model has none; "
                           f"use {opt('method')} integrated-gradients")
    return convs[-1]


class GradCamExplainer(Explainer):
    """ReLU of the channel-weighted activation map, upsampled and repeated over input channels."""

    name = "gradcam"

    def captum(self, model: nn.Module) -> Any:
        return LayerGradCam(model, find_layer(model, self.cfg.layer)[1])

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"relu_attributions": True}

    def finish(self, attributions: Tensor, x: Tensor) -> Tensor:
        up = LayerAttribution.interpolate(attributions, tuple(x.shape[-2:]), interpolate_mode="bilinear")
        return up.expand(-1, x.shape[1], -1, -1).contiguous()


explainer = GradCamExplainer
