"""Epoch checkpoints for resuming a stopped run: safetensors + JSON, replaced atomically.

A checkpoint holds named parts: modules (the model, a GAN's generator), optimizers and
schedulers, the best-so-far weights of the main module, and the loop's JSON state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from plugins.atomic import atomic_dir
from plugins.errors import InvalidInput, brief, opt

TENSORS = "checkpoint.safetensors"
META = "checkpoint.json"


@dataclass
class Parts:
    """What a training loop saves each epoch (names are stable keys in the checkpoint)."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    schedulers: dict[str, Any] = field(default_factory=dict)  # anything with state_dict()


def _cpu(t: Tensor) -> Tensor:
    """A contiguous CPU copy (safetensors stores CPU tensors; copies never share storage)."""
    return t.detach().to("cpu", copy=True).contiguous()


def _flat_optimizer(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list[Any]]:
    sd = optimizer.state_dict()
    tensors = {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            tensor = value if isinstance(value, Tensor) else torch.tensor(value)
            tensors[f"{prefix}.{idx}.{name}"] = _cpu(tensor)
    return tensors, sd["param_groups"]


def save_checkpoint(folder: Path, parts: Parts, best: dict[str, Tensor], state: dict[str, Any]) -> None:
    """Write every part, the best-so-far weights and ``state``; the old checkpoint stays until done."""
    tensors = {f"module.{name}.{k}": _cpu(v) for name, m in parts.modules.items()
               for k, v in m.state_dict().items()}
    tensors.update({f"best.{k}": _cpu(v) for k, v in best.items()})
    groups = {}
    for name, optimizer in parts.optimizers.items():
        opt_tensors, groups[name] = _flat_optimizer(f"opt.{name}", optimizer)
        tensors.update(opt_tensors)
    meta = {"state": state, "opt_groups": groups,
            "schedulers": {name: s.state_dict() for name, s in parts.schedulers.items()}}
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


def load_checkpoint(folder: Path, parts: Parts) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Restore every part in place; return (state, best weights).

    A damaged or foreign checkpoint raises one line that says how to start over.
    """
    try:
        return _load(Path(folder), parts)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, SafetensorError) as exc:
        raise InvalidInput(f"the checkpoint in {folder} cannot be resumed ({brief(exc)}); start over with "
                           f"{opt('overwrite')} instead of {opt('resume')}") from exc


def _load(folder: Path, parts: Parts) -> tuple[dict[str, Any], dict[str, Tensor]]:
    meta = json.loads((folder / META).read_text())
    tensors = load_file(str(folder / TENSORS))
    for name, module in parts.modules.items():
        prefix = f"module.{name}."
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                               strict=True)
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
    for name, optimizer in parts.optimizers.items():
        state: dict[int, dict[str, Tensor]] = {}
        prefix = f"opt.{name}."
        for key, value in tensors.items():
            if key.startswith(prefix):
                idx, tensor_name = key[len(prefix):].split(".", 1)
                state.setdefault(int(idx), {})[tensor_name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["opt_groups"][name]})
    for name, scheduler in parts.schedulers.items():
        scheduler.load_state_dict(meta["schedulers"][name])
    return meta["state"], best
