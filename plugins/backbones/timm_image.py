"""Image backbones from timm: ResNet, VGG, EfficientNet-Lite and any other timm name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
from timm.models import group_modules
from torch import Tensor, nn

from plugins.assets import available, locate
from plugins.backbones.base import Backbone
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, opt
from plugins.weights import fit_state_dict, load_by_position, read_state_dict

# timm name -> offline asset holding ImageNet weights, loaded by position
PACKAGED = {"tf_efficientnet_lite0": "efficientnet_lite0"}
# timm name -> recommended training settings ("ADAPTER/MODALITY" -> flat options; finetune/model_defaults.py)
TRAINING: dict[str, dict[str, dict[str, Any]]] = {
    # full fine-tuning at 128 px with a higher backbone rate, label smoothing and light augmentation:
    # bench/bench_defaults.py (Fashion-MNIST, 200 images per class) measures it against the generic settings
    "tf_efficientnet_lite0": {"full/*": {"image_size": 128, "epochs": 12, "lr": 2e-3, "backbone_lr_mult": 0.5,
                                         "label_smoothing": 0.1, "patience": 5, "augment": "shift,flip"}},
}
SOURCES = {"none": "random init", "hub": "pretrained weights from the hub",
           "packaged": "packaged ImageNet weights"}


class TimmBackbone(Backbone):
    """A timm model with its classifier removed. Shape: (N, 3, H, W) normalized -> (N, F)."""

    modality = "image"
    model: Any  # a timm model: its own attributes are looked up dynamically

    def __init__(self, model: Any, timm_name: str, image_size: int) -> None:
        super().__init__()
        self.model = model
        self.name = timm_name
        self.image_size = image_size
        self.num_features = int(getattr(model, "head_hidden_size", None) or model.num_features)

    def forward_features(self, *inputs: Tensor) -> Tensor:
        return self.model(inputs[0])

    def blocks(self) -> list[list[nn.Module]]:
        groups = group_modules(self.model, self.model.group_matcher(coarse=True))
        return [[self.model.get_submodule(n) for n in names] for _, names in sorted(groups.items())]

    def preprocessing(self) -> dict[str, Any]:
        cfg = self.model.pretrained_cfg
        return {
            "modality": "image",
            "input_size": [3, self.image_size, self.image_size],
            "mean": [float(v) for v in cfg.get("mean", (0.485, 0.456, 0.406))],
            "std": [float(v) for v in cfg.get("std", (0.229, 0.224, 0.225))],
        }

    def arch(self) -> dict[str, Any]:
        return {"timm_name": self.name, "image_size": self.image_size}


def _create(timm_name: str, pretrained: bool, num_classes: int = 0) -> nn.Module:
    try:
        return timm.create_model(timm_name, pretrained=pretrained, num_classes=num_classes)
    except Exception as exc:  # timm raises many types for a failed download
        if not pretrained:
            raise
        raise InvalidInput(
            f"could not fetch hub weights for {timm_name} ({type(exc).__name__}); offline? "
            f"pass {opt('weights')} PATH (a local file) or {opt('weights')} none"
        ) from exc


def _packaged(timm_name: str) -> nn.Module:
    asset = PACKAGED.get(timm_name)
    if asset is None:
        raise InvalidInput(
            f"no packaged weights for {timm_name} on this machine; use {opt('weights')} hub, PATH or none"
        )
    path = locate(asset)
    model: Any = _create(timm_name, pretrained=False, num_classes=1000)
    load_by_position(model, read_state_dict(path), str(path))
    model.reset_classifier(0)
    return model


def _from_file(timm_name: str, path: str) -> nn.Module:
    model: Any = _create(timm_name, pretrained=False)
    head = model.pretrained_cfg.get("classifier", "fc")
    sd = read_state_dict(Path(path))
    heads = (head + ".", "fc.", "head.", "classifier.", "pre_logits.fc.")
    sd = fit_state_dict(model, sd, path, ignore=heads)
    model.load_state_dict(sd, strict=True)
    return model


def create_timm_backbone(
    timm_name: str, cfg: BackboneConfig, arch: dict[str, Any] | None = None
) -> TimmBackbone:
    """Build ``timm_name`` with weights from ``cfg.weights`` (or bare, from a bundle's ``arch``)."""
    from pathlib import Path

    model: Any
    if arch is not None:
        name = arch["timm_name"]
        if not isinstance(name, str) or ":" in name or not is_timm_name(name):
            raise InvalidInput(f"field arch.timm_name {name!r} is not a timm architecture name (a bundle "
                               "never names a hub id); the bundle is damaged: retrain it or restore it")
        return TimmBackbone(_create(name, pretrained=False), name, int(arch["image_size"]))
    source = cfg.weights
    if source == "auto":
        has_packaged = timm_name in PACKAGED and available(PACKAGED[timm_name])
        source = "packaged" if has_packaged else "hub"
    if source == "none":
        model = _create(timm_name, pretrained=False)
    elif source == "hub":
        model = _create(timm_name, pretrained=True)
    elif source == "packaged":
        model = _packaged(timm_name)
    else:
        model = _from_file(timm_name, str(Path(source)))
    size = cfg.image_size or int(model.pretrained_cfg.get("input_size", (3, 224, 224))[-1])
    backbone = TimmBackbone(model, timm_name, size)
    backbone.source = SOURCES.get(source) or f"weights from {Path(source).name}"
    return backbone


def is_timm_name(name: str) -> bool:
    """Whether timm knows an architecture called ``name``."""
    return bool(timm.is_model(name))


def _factory(timm_name: str) -> Any:
    def build(cfg: BackboneConfig, arch: dict[str, Any] | None = None) -> TimmBackbone:
        return create_timm_backbone(timm_name, cfg, arch)

    build.__doc__ = f"timm {timm_name}"
    build.modality = "image"  # type: ignore[attr-defined]
    build.training_defaults = TRAINING.get(timm_name, {})  # type: ignore[attr-defined]
    return build


resnet18 = _factory("resnet18")
resnet34 = _factory("resnet34")
resnet50 = _factory("resnet50")
vgg16 = _factory("vgg16")
vgg16_bn = _factory("vgg16_bn")
efficientnet_lite0 = _factory("tf_efficientnet_lite0")
