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


def ranks_device(asked: str, nproc: int) -> str:
    """The device all ``nproc`` local training processes can have, decided before any starts: ``cuda``
    needs a GPU per process (else one line naming the GPUs found); ``auto`` is cuda when there is one per
    process, else the CPU (gloo)."""
    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if asked == "cuda" and nproc > have:
        fix = f"use {opt('nproc')} {have}, or {opt('device')} cpu for gloo" if have else (
            f"use {opt('device')} cpu (gloo)")
        raise Unsupported(f"{opt('nproc')} {nproc} needs {nproc} GPUs with {opt('device')} cuda; this "
                          f"machine has {have}: {fix}", field="nproc" if have else "device")
    if asked == "auto":
        return "cuda" if have >= nproc else "cpu"
    return asked
