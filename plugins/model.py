"""ModelSpec (what a bundle records) and building a Classifier from it through the registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from plugins.backbones import BackboneConfig, build_backbone, canonical_backbone_name
from plugins.classifier import Classifier, ImageClassifier, TextClassifier
from plugins.errors import InvalidInput, Unsupported
from plugins.registry import registry
from plugins.schema import from_dict, read_value

MAX_CLASSES = 100_000


@dataclass(frozen=True)
class ModelSpec:
    """Backbone and head names from the registry, their configs, and the class count."""

    backbone: str
    num_classes: int
    backbone_config: BackboneConfig = field(default_factory=BackboneConfig)
    head: str = "linear"
    head_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.backbone:
            raise InvalidInput("the model needs a backbone name")
        if not 2 <= self.num_classes <= MAX_CLASSES:
            raise InvalidInput(f"num_classes must be between 2 and {MAX_CLASSES}, got {self.num_classes}")

    def to_json(self) -> dict[str, Any]:
        """JSON form (weights source kept for the record)."""
        return {**asdict(self), "backbone": canonical_backbone_name(self.backbone)}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "model spec",
                  fix: str = "write it with ModelSpec.to_json") -> ModelSpec:
        """Inverse of ``to_json``; every field checked (one line naming the field otherwise)."""
        return from_dict(cls, data, where, fix)


def build_classifier(spec: ModelSpec, arch: dict[str, Any] | None = None) -> Classifier:
    """A Classifier for ``spec``; with ``arch`` (from a bundle) no weights are fetched."""
    cfg = spec.backbone_config
    if arch is not None:
        cfg = replace(cfg, weights="none")
    backbone = build_backbone(spec.backbone, cfg, arch)
    factory = registry.get("head", spec.head)
    check_kwargs(factory, spec.head_config, f"head {spec.head}")
    head = factory(backbone.num_features, spec.num_classes, **spec.head_config)
    if backbone.modality == "text":
        return TextClassifier(backbone, head)
    pre = backbone.preprocessing()
    return ImageClassifier(backbone, head, pre["mean"], pre["std"])


def check_kwargs(factory: Any, kwargs: dict[str, Any], what: str) -> None:
    """Refuse keyword arguments that ``factory`` does not take or of another type (before calling it)."""
    import inspect
    import typing

    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise Unsupported(f"{what} takes no option {unknown[0]!r}; it takes "
                          f"{', '.join(list(params)[2:]) or 'none'}")
    try:
        hints = typing.get_type_hints(factory)
    except (NameError, TypeError):  # a third-party factory with unresolvable annotations
        return
    for name, value in kwargs.items():
        if name in hints:
            read_value(hints[name], value, what, name, "give it a value of that type")
