"""What clients look up without running a job: plugins, built-in datasets, a dataset's or a bundle's
summary, the weight sources. The service reads these instead of the library floors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugins.backbones.config import WEIGHT_SOURCES
from plugins.registry import registry

if TYPE_CHECKING:
    from plugins.meta import BundleMeta as BundleMeta  # the service names it through this module

__all__ = [
    "DEFAULT_MODELS",
    "WEIGHT_SOURCES",
    "builtin_datasets",
    "bundle_summary",
    "describe_dataset",
    "plugins",
]


def plugins() -> list[dict[str, str]]:
    """Every plugin: kind, name, description, the distribution it comes from."""
    return [
        {"kind": e.kind, "name": e.name, "description": e.description, "source": e.source} for e in registry
    ]


DEFAULT_MODELS = {"image": "efficientnet_lite0", "text": "bert"}  # packaged weights: work offline


def builtin_datasets() -> dict[str, dict[str, str | None]]:
    """The datasets that ship with robustune: name -> description and modality."""
    return {
        e.name: {"description": e.description, "modality": getattr(e.load(), "modality", None)}
        for e in registry
        if e.kind == "dataset" and e.name not in ("imagefolder", "csv")
    }


def describe_dataset(kind: str, path: Path, **columns: Any) -> dict[str, Any]:
    """Classes, counts per class and a few samples of a CSV or image folder (reading it checks it)."""
    from finetune.data.config import DataOptions
    from finetune.data.spec import load_data
    from finetune.data.types import TextData, class_counts

    source = load_data(f"{kind}:{path}", DataOptions(**columns))
    data = source.pool
    samples = data.texts[:3] if isinstance(data, TextData) else (data.names or [])[:3]
    return {
        "modality": data.modality,
        "classes": list(data.classes),
        "counts": class_counts(data),
        "examples": len(data),
        "samples": samples,
    }


def bundle_summary(path: Path) -> BundleMeta:
    """A bundle's checked metadata: modality, model, labels, preprocessing, metrics (no weights read)."""
    from plugins.bundle import read_meta

    return read_meta(Path(path))


def known_model(name: str) -> bool:
    """Whether ``name`` is a registered backbone or a timm architecture (HF folders are paths, not names)."""
    if registry.has("backbone", name):
        return True
    from plugins.backbones.timm_image import is_timm_name

    return is_timm_name(name)
