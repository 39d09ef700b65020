"""Epoch checkpoints for resuming a killed run: safetensors + JSON, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from plugins.atomic import atomic_dir
from plugins.errors import RobustuneError, brief

TENSORS = "checkpoint.safetensors"
META = "checkpoint.json"


def _cpu(t: Tensor) -> Tensor:
    """A contiguous CPU copy (safetensors stores CPU tensors; copies never share storage)."""
    return t.detach().to("cpu", copy=True).contiguous()


def _flat_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[Any]]:
    sd = optimizer.state_dict()
    tensors = {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            tensor = value if isinstance(value, Tensor) else torch.tensor(value)
            tensors[f"opt.{idx}.{name}"] = _cpu(tensor)
    return tensors, sd["param_groups"]


def save_checkpoint(
    folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, best: dict[str, Tensor], state: dict[str, Any],
) -> None:
    """Write module, best-so-far weights, optimizer and schedule; the old one stays until done."""
    tensors = {f"module.{k}": _cpu(v) for k, v in module.state_dict().items()}
    tensors.update({f"best.{k}": _cpu(v) for k, v in best.items()})
    opt_tensors, groups = _flat_optimizer(optimizer)
    tensors.update(opt_tensors)
    meta = {"state": state, "opt_groups": groups, "scheduler": scheduler.state_dict()}
    with atomic_dir(Path(folder), overwrite=True, kind="checkpoint") as tmp:
        save_file(tensors, str(tmp / TENSORS))
        (tmp / META).write_text(json.dumps(meta))  # internal: -inf scores must round-trip


def find_checkpoint(folder: Path) -> Path | None:
    """The checkpoint folder, or the previous one if a kill came between two renames."""
    folder = Path(folder)
    if (folder / META).is_file():
        return folder
    olds = sorted(folder.parent.glob(f".{folder.name}.old-*"))
    return olds[-1] if olds and (olds[-1] / META).is_file() else None


def load_checkpoint(
    folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Restore module, optimizer and schedule in place; return (state, best weights).

    A damaged or foreign checkpoint raises one line that says how to start over.
    """
    try:
        return _load(Path(folder), module, optimizer, scheduler)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, SafetensorError) as exc:
        first = brief(exc)
        raise RobustuneError(f"the checkpoint in {folder} cannot be resumed ({first}); start over with "
                             "--overwrite instead of --resume") from exc


def _load(
    folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    meta = json.loads((folder / META).read_text())
    tensors = load_file(str(folder / TENSORS))
    module.load_state_dict(
        {k[len("module."):]: v for k, v in tensors.items() if k.startswith("module.")}, strict=True
    )
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
    state: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["opt_groups"]})
    scheduler.load_state_dict(meta["scheduler"])
    return meta["state"], best
