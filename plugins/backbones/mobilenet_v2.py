"""MobileNetV2 from torchvision, with ImageNet weights from the offline deep-sort package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from plugins.assets import available, locate
from plugins.backbones.base import Backbone
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, opt
from plugins.weights import fit_state_dict, load_by_position, read_state_dict

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class MobileNetV2Backbone(Backbone):
    """torchvision ``mobilenet_v2().features`` + global average pooling.

    Shape: (N, 3, H, W) normalized -> (N, 1280).
    """

    modality = "image"

    def __init__(self, features: nn.Sequential, image_size: int) -> None:
        super().__init__()
        self.features = features
        self.image_size = image_size
        self.name = "mobilenet_v2"
        self.num_features = 1280

    def forward_features(self, *inputs: Tensor) -> Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(inputs[0]), 1), 1)

    def blocks(self) -> list[list[nn.Module]]:
        return [[m] for m in self.features]

    def preprocessing(self) -> dict[str, Any]:
        size = self.image_size
        return {"modality": "image", "input_size": [3, size, size], "mean": IMAGENET_MEAN,
                "std": IMAGENET_STD}

    def arch(self) -> dict[str, Any]:
        return {"torchvision": "mobilenet_v2", "image_size": self.image_size}


def _features(weights: str) -> nn.Sequential:
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    if weights == "hub":
        try:
            return mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1).features
        except Exception as exc:  # a failed download surfaces as many types
            raise InvalidInput(
                f"could not fetch hub weights for mobilenet_v2 ({type(exc).__name__}); offline? "
                f"use {opt('weights')} packaged, PATH or none"
            ) from exc
    features = mobilenet_v2().features
    if weights == "none":
        return features
    if weights == "packaged":  # older torchvision key names: same order and shapes
        path = locate("mobilenetv2")
        load_by_position(features, read_state_dict(path), str(path))
        return features
    sd = fit_state_dict(features, read_state_dict(Path(weights)), weights, ignore=("classifier.",))
    features.load_state_dict(sd, strict=True)
    return features


def mobilenet_v2(cfg: BackboneConfig, arch: dict[str, Any] | None = None) -> MobileNetV2Backbone:
    """MobileNetV2; ``auto`` weights are the packaged ImageNet ones when installed."""
    if arch is not None:
        return MobileNetV2Backbone(_features("none"), int(arch["image_size"]))
    weights = cfg.weights
    if weights == "auto":
        weights = "packaged" if available("mobilenetv2") else "hub"
    return MobileNetV2Backbone(_features(weights), cfg.image_size or 224)


mobilenet_v2.modality = "image"  # type: ignore[attr-defined]
