"""The epoch loop every training recipe shares: seeds, validation, early stopping, checkpoints.

Each epoch re-seeds from ``(seed, epoch)``, trains (the recipe's ``train_epoch``), validates,
keeps the best weights (validation accuracy, then loss), reports an ``epoch`` metric and writes
a checkpoint of every part, so a stopped run resumes exactly where it was. Cancellation is
checked before every epoch (and by the recipe between batches).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from finetune.checkpoint import Parts, find_checkpoint, load_checkpoint, save_checkpoint
from finetune.distributed import barrier, is_main, share_result
from plugins.events import Reporter


@dataclass
class History:
    """Per-epoch records and the epoch whose weights were kept."""

    epochs: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool


def seed_epoch(seed: int, epoch: int) -> torch.Generator:
    """Seed torch's global RNG for ``epoch`` and return a generator for its data order."""
    torch.manual_seed(seed * 1000 + epoch)
    return torch.Generator().manual_seed(seed * 1000 + epoch)


def _clone(module: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class EpochLoop:
    """Runs ``epochs`` of a recipe over ``parts`` (``parts.modules["model"]`` is the one kept)."""

    def __init__(self, parts: Parts, epochs: int, seed: int, patience: int | None,
                 checkpoint_dir: Path | None, events: Reporter) -> None:
        self.parts = parts
        self.epochs = epochs
        self.seed = seed
        self.patience = patience
        self.checkpoint_dir = checkpoint_dir
        self.events = events

    def run(self, train_epoch: Callable[[int], dict[str, float]],
            validate: Callable[[int], dict[str, float]]) -> History:
        """Train from the last checkpoint (or the start); restore the best epoch's weights."""
        module = self.parts.modules["model"]
        state: dict[str, Any] = {"epoch": 0, "history": [], "best_epoch": -1,
                                 "best_score": [-1.0, -math.inf], "bad_epochs": 0}
        best = _clone(module)
        found = find_checkpoint(self.checkpoint_dir) if self.checkpoint_dir else None
        if found is not None:
            state, best = load_checkpoint(found, self.parts)
            self.events.log(f"resuming after epoch {state['epoch']} from {found}")
        for epoch in range(state["epoch"], self.epochs):
            if self.patience is not None and state["bad_epochs"] >= self.patience:
                break
            self.events.check()
            record = train_epoch(epoch)
            record.update(validate(epoch), epoch=epoch + 1)
            record = share_result(record)  # one early-stopping decision for every rank: rank 0's
            state["history"].append(record)
            score = [record["val_accuracy"], -record["val_loss"]]
            if score > state["best_score"]:
                state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0)
                best = _clone(module)
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch + 1
            if self.checkpoint_dir is not None:
                if is_main():  # rank 0 writes; the others wait, so every rank resumes from one epoch
                    save_checkpoint(self.checkpoint_dir, self.parts, best, state)
                barrier()
            self.events.metric("epoch", step=epoch + 1, of=self.epochs, **record)
        module.load_state_dict(best)
        return History(state["history"], state["best_epoch"], state["epoch"] < self.epochs)
