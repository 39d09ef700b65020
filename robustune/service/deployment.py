"""What this deployment can run, checked at submit: a job asking for GPUs that local workers do not have
is refused naming the field, instead of failing (or waiting) later. A Ray cluster's GPUs are Ray's to
count (the Ray executor refuses a job the cluster cannot hold when it claims it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from plugins.errors import Unsupported


def local_gpus() -> int:
    """NVIDIA GPUs this machine shows (``/dev/nvidiaN``), without importing torch."""
    dev = Path("/dev")
    return sum(1 for p in dev.glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name)) if dev.is_dir() else 0


def training_options(value: Any, at: str = "") -> tuple[dict[str, Any], str] | None:
    """The training options inside a resolved spec and where they sit (``options.``)."""
    if isinstance(value, dict):
        if "nproc" in value and "device" in value:
            return value, at
        for key, item in value.items():
            found = training_options(item, f"{at}{key}.")
            if found is not None:
                return found
    return None


def check(resolved: dict[str, Any], executor: str, gpus: int | None = None) -> None:
    """Refuse a job that asks for more GPUs than the local workers have (``gpus``: how many; default:
    this machine's)."""
    found = training_options(resolved)
    if executor != "local":
        return
    if found is None:  # one process (evaluate, predict): a GPU asked for must be here
        if resolved.get("device") == "cuda" and (local_gpus() if gpus is None else gpus) == 0:
            raise Unsupported("device: the job asks for a GPU and this service has none; use device cpu "
                              "(or auto)", field="device")
        return
    train, at = found
    if train.get("device") != "cuda":
        return
    have = local_gpus() if gpus is None else gpus
    want = int(train.get("nproc", 1))
    if want > have:
        where = "options." if at.startswith("options.") else ""
        field = f"{where}device" if have == 0 else f"{where}nproc"
        what = "has no GPU" if have == 0 else f"has {have} GPU(s)"
        raise Unsupported(f"{field}: the job asks for {want} GPU(s) and this service {what}; use device "
                           "cpu (or auto) or fewer processes", field=field)
