"""The on-disk cache of measured numerics choices and batch footprints: measured once per model, input
shape and machine."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from plugins.atomic import atomic_write_text

CACHE_VERSION = 2


def cache_file() -> Path:
    """Where measured choices live: ``$ROBUSTUNE_CACHE_DIR`` or ``~/.cache/robustune``."""
    root = os.environ.get("ROBUSTUNE_CACHE_DIR") or Path.home() / ".cache" / "robustune"
    return Path(root) / "numerics.json"


def cache_key(model: nn.Module, args: tuple[Tensor, ...], device: torch.device, purpose: str,
              precision: str) -> str:
    """(architecture, input shape, device, torch version, purpose, precision) as one string."""
    arch_fn = getattr(getattr(model, "backbone", None), "arch", None)
    arch = arch_fn() if callable(arch_fn) else type(model).__name__
    head = [type(m).__name__ for m in getattr(model, "head", nn.Identity()).modules()]
    blob = json.dumps([arch, head, getattr(model, "modality", None)], sort_keys=True, default=str)
    shape = "x".join(str(s) for s in args[0].shape[1:])  # the batch dimension is the caller's
    name = device.type if device.type == "cpu" else torch.cuda.get_device_name(device)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return f"{digest}|{shape}|{name}|{torch.__version__}|{purpose}|{precision}"


def read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: measure again and rewrite it
    return data if isinstance(data, dict) and data.get("version") == CACHE_VERSION else {}


def write_choice(path: Path, key: str, entry: dict[str, Any], section: str = "choices") -> None:
    """Add one entry (a numerics choice, or a batch footprint in ``"batches"``) to the cache at ``path``
    (re-read first: another process may have written)."""
    cache = read_cache(path)
    cache.setdefault(section, {})[key] = entry
    cache["version"] = CACHE_VERSION
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True))
