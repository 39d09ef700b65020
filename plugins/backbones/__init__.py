"""Backbone plugins and the resolver that also passes through timm names and HF folders."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from plugins.backbones.config import BackboneConfig
from plugins.registry import registry

if TYPE_CHECKING:
    from plugins.backbones.base import Backbone

__all__ = ["BackboneConfig", "backbone_modality", "build_backbone", "canonical_backbone_name"]


def canonical_backbone_name(name: str) -> str:
    """The name stored in bundles: a registered name, a timm name, or ``bert`` for HF folders."""
    from plugins.backbones.bert import is_hf_dir

    if registry.has("backbone", name):
        return name
    if is_hf_dir(name):
        return "bert"
    return name


def backbone_modality(name: str) -> str | None:
    """``image`` or ``text`` without building the backbone (``None`` when it cannot tell)."""
    from plugins.backbones.bert import is_hf_dir

    if registry.has("backbone", name):
        return getattr(registry.get("backbone", name), "modality", None)
    if is_hf_dir(name):
        return "text"
    from plugins.backbones.timm_image import is_timm_name

    return "image" if is_timm_name(name) else None


def build_backbone(name: str, cfg: BackboneConfig, arch: dict[str, Any] | None = None) -> Backbone:
    """Build a registered backbone, any timm architecture name, or an HF folder (timm and transformers
    are imported only for the models that need them)."""
    if registry.has("backbone", name):
        return registry.get("backbone", name)(cfg, arch)  # type: ignore[no-any-return]
    from plugins.backbones.bert import create_bert, is_hf_dir

    if is_hf_dir(name):
        return create_bert(replace(cfg, weights=name) if cfg.weights == "auto" else cfg, arch)
    from plugins.backbones.timm_image import create_timm_backbone, is_timm_name

    if is_timm_name(name):
        return create_timm_backbone(name, cfg, arch)
    registry.entry("backbone", name)  # raises: unknown, with the closest name
    raise AssertionError("unreachable")
