"""Choosing the device: a GPU when present (``auto``), else the CPU."""

from __future__ import annotations

import torch

from plugins.errors import Unsupported, opt


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available; ``cuda`` without a GPU raises."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise Unsupported(f"{opt('device')} cuda was asked for but no GPU is visible; use "
                          f"{opt('device')} cpu", field='device')
    return torch.device(name)
