"""Per-model training defaults: what each model plugin recommends, per adapter and data modality.

A model plugin (the registry's factory) may carry ``training_defaults``: a mapping from
``"ADAPTER/MODALITY"`` (``*`` matches any) to flat training options named as the CLI flags
(``epochs``, ``lr``, ``patience``, ``label_smoothing``, ``augment``, ``image_size``, ...), the
way it declares its preprocessing. More specific keys win: ``*/*`` < ``*/image`` < ``full/*`` <
``full/image``. The user's flags and config file override every one of them; ``--defaults
generic`` ignores them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finetune.data.spec import parse_data_spec
from plugins.backbones import backbone_modality, canonical_backbone_name
from plugins.errors import RobustuneError
from plugins.registry import registry

DefaultsTable = Mapping[str, Mapping[str, Any]]


def pick(table: DefaultsTable, adapter: str, modality: str | None) -> dict[str, Any]:
    """The settings ``table`` recommends for ``adapter`` on ``modality`` data (``None``: unknown)."""
    keys = ["*/*", f"{adapter}/*"]
    if modality is not None:
        keys = ["*/*", f"*/{modality}", f"{adapter}/*", f"{adapter}/{modality}"]
    out: dict[str, Any] = {}
    for key in keys:
        out.update(table.get(key, {}))
    return out


def _factory(backbone: str) -> Any:
    """The registry factory behind ``backbone`` (an HF folder is the ``bert`` plugin's)."""
    name = canonical_backbone_name(backbone)
    return registry.get("backbone", name) if registry.has("backbone", name) else None


def default_adapter(backbone: str) -> str:
    """What ``--adapter auto`` means for ``backbone``: scratch for from-scratch models, else linear-probe."""
    return "scratch" if getattr(_factory(backbone), "from_scratch", False) else "linear-probe"


def data_modality(data: str) -> str | None:
    """``image`` or ``text`` from the dataset plugin, without loading (``None``: it does not say)."""
    try:
        name, _ = parse_data_spec(data)
        return getattr(registry.get("dataset", name), "modality", None)
    except RobustuneError:  # loading the data names the problem properly
        return None


def model_defaults(backbone: str, adapter: str, modality: str | None) -> dict[str, Any]:
    """The training settings ``backbone``'s plugin recommends for ``adapter`` (``auto`` resolved)."""
    adapter = default_adapter(backbone) if adapter == "auto" else adapter
    table: DefaultsTable = getattr(_factory(backbone), "training_defaults", None) or {}
    return pick(table, adapter, modality or backbone_modality(backbone))


def describe(applied: Mapping[str, Any]) -> str:
    """``epochs 40, lr 0.003, ...`` for a log line."""
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in applied.items())
