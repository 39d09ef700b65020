"""ModelSpec (what a bundle records) and building a Classifier from it through the registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from plugins.backbones import BackboneConfig, build_backbone, canonical_backbone_name
from plugins.classifier import Classifier, ImageClassifier, TextClassifier
from plugins.registry import registry


@dataclass(frozen=True)
class ModelSpec:
    """Backbone and head names from the registry, their configs, and the class count."""

    backbone: str
    num_classes: int
    backbone_config: BackboneConfig = field(default_factory=BackboneConfig)
    head: str = "linear"
    head_config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (weights source kept for the record)."""
        return {**asdict(self), "backbone": canonical_backbone_name(self.backbone)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        """Inverse of ``to_json``."""
        data = dict(data)
        data["backbone_config"] = BackboneConfig(**data.get("backbone_config", {}))
        return cls(**data)


def build_classifier(spec: ModelSpec, arch: dict[str, Any] | None = None) -> Classifier:
    """A Classifier for ``spec``; with ``arch`` (from a bundle) no weights are fetched."""
    cfg = spec.backbone_config
    if arch is not None:
        cfg = replace(cfg, weights="none")
    backbone = build_backbone(spec.backbone, cfg, arch)
    head = registry.get("head", spec.head)(backbone.num_features, spec.num_classes, **spec.head_config)
    if backbone.modality == "text":
        return TextClassifier(backbone, head)
    pre = backbone.preprocessing()
    return ImageClassifier(backbone, head, pre["mean"], pre["std"])
