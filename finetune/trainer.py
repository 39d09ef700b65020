"""The supervised training loop: cross-entropy, AdamW, warmup + cosine, early stopping, resume."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor

from finetune.adapters.base import TrainPlan
from finetune.adversarial import adversarial_loss
from finetune.augment import augment, parse_augment
from finetune.batches import Inputs, iterate, model_args, num_examples
from finetune.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from finetune.config import TrainConfig
from finetune.inference import predict_logits
from plugins.errors import TrainingDiverged


@dataclass
class History:
    """Per-epoch records and the epoch whose weights were kept."""

    epochs: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool


def warmup_cosine(total_steps: int, warmup_fraction: float) -> Any:
    """LR multiplier: linear warmup, then cosine decay to zero."""
    warmup = int(total_steps * warmup_fraction)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def finite_loss(value: float, epoch: int, lr: float) -> float:
    """``value``, or a ``TrainingDiverged`` error naming the likely cause when it is NaN or infinite."""
    if not math.isfinite(value):
        raise TrainingDiverged(f"training diverged: the loss became {value} in epoch {epoch + 1}; lower --lr "
                               f"(it was {lr:g}) or check the data; no bundle was written")
    return value


def balanced_weights(labels: Tensor, num_classes: int) -> Tensor:
    """n / (K * count) per class (absent classes get weight 0)."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    return torch.where(counts > 0, labels.numel() / (num_classes * counts.clamp_min(1)), 0.0)


class Trainer:
    """Runs a TrainPlan; with ``checkpoint_dir`` it saves each epoch and resumes from it."""

    def __init__(
        self, plan: TrainPlan, cfg: TrainConfig, device: torch.device, num_classes: int,
        checkpoint_dir: Path | None = None, progress: bool = True,
        on_epoch_end: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        self.plan = plan
        self.cfg = cfg
        self.device = device
        self.num_classes = num_classes
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.on_epoch_end = on_epoch_end
        self.console = Console(stderr=True)
        self.augment = parse_augment(cfg.augment)
        self.params = [p for g in plan.param_groups for p in g["params"]]  # clipped every step

    def _loss(self, labels: Tensor) -> torch.nn.Module:
        weight = balanced_weights(labels, self.num_classes) if self.cfg.class_weights else None
        return torch.nn.CrossEntropyLoss(
            weight=weight.to(self.device) if weight is not None else None,
            label_smoothing=self.cfg.label_smoothing,
        )

    def _train_mode(self) -> None:
        self.plan.module.train()
        for m in self.plan.frozen:
            m.eval()

    def _epoch(self, epoch: int, inputs: Inputs, labels: Tensor, loss_fn: Any,
               optimizer: torch.optim.Optimizer, scheduler: Any, bar: Progress) -> dict[str, float]:
        torch.manual_seed(self.cfg.seed * 1000 + epoch)
        gen = torch.Generator().manual_seed(self.cfg.seed * 1000 + epoch)
        order = torch.randperm(num_examples(inputs), generator=gen)
        if self.plan.epoch_hook is not None:
            self.plan.epoch_hook(epoch)
        self._train_mode()
        task = bar.add_task(f"epoch {epoch + 1}/{self.cfg.epochs}", total=len(order))
        total_loss, correct, seen = 0.0, 0, 0
        for batch in iterate({**inputs, "_y": labels}, self.cfg.batch_size, order):
            y = batch.pop("_y").to(self.device)
            args = model_args(batch, self.device)
            if self.augment and "pixels" in batch:
                args = (augment(args[0], self.augment),)
            if self.cfg.adversarial != "none" and "pixels" in batch:
                loss, logits = adversarial_loss(self.plan.module, args[0], y, self.cfg, loss_fn,
                                                self._train_mode)
            else:
                logits = self.plan.module(*args)
                loss = loss_fn(logits, y)
            value = finite_loss(float(loss.detach()), epoch, self.cfg.lr)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            total_loss += value * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.update(task, advance=len(y),
                       description=f"epoch {epoch + 1}/{self.cfg.epochs} loss {total_loss / seen:.3f} "
                                   f"acc {correct / seen:.3f}")
        bar.remove_task(task)
        return {"train_loss": total_loss / seen, "train_accuracy": correct / seen}

    def _validate(self, inputs: Inputs, labels: Tensor) -> dict[str, float]:
        logits = predict_logits(self.plan.module, inputs, self.cfg.eval_batch_size, self.device)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean()
        return {"val_loss": float(loss), "val_accuracy": float(acc)}

    def fit(self, train: Inputs, y_train: Tensor, val: Inputs, y_val: Tensor) -> History:
        """Train with early stopping on validation accuracy; restore the best epoch's weights."""
        module = self.plan.module.to(self.device)
        optimizer = torch.optim.AdamW(self.plan.param_groups, weight_decay=self.cfg.weight_decay)
        steps = self.cfg.epochs * math.ceil(num_examples(train) / self.cfg.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(steps, self.cfg.warmup_fraction)
        )
        state: dict[str, Any] = {"epoch": 0, "history": [], "best_epoch": -1,
                                 "best_score": [-1.0, -math.inf], "bad_epochs": 0}
        best = {k: v.detach().clone() for k, v in module.state_dict().items()}
        found = find_checkpoint(self.checkpoint_dir) if self.checkpoint_dir else None
        if found is not None:
            state, best = load_checkpoint(found, module, optimizer, scheduler)
            self.console.print(f"resuming after epoch {state['epoch']} from {found}")
        loss_fn = self._loss(y_train)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=self.console, disable=not self.progress,
                      transient=True) as bar:
            for epoch in range(state["epoch"], self.cfg.epochs):
                if state["bad_epochs"] >= self.cfg.patience:
                    break
                record = self._epoch(epoch, train, y_train, loss_fn, optimizer, scheduler, bar)
                record.update(self._validate(val, y_val), epoch=epoch + 1)
                state["history"].append(record)
                score = [record["val_accuracy"], -record["val_loss"]]
                if score > state["best_score"]:
                    state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0)
                    best = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    state["bad_epochs"] += 1
                state["epoch"] = epoch + 1
                if self.progress:
                    self.console.print(
                        f"epoch {epoch + 1}: train loss {record['train_loss']:.4f} acc "
                        f"{record['train_accuracy']:.4f} | val loss {record['val_loss']:.4f} "
                        f"acc {record['val_accuracy']:.4f}"
                    )
                if self.checkpoint_dir is not None:
                    save_checkpoint(self.checkpoint_dir, module, optimizer, scheduler, best, state)
                if self.on_epoch_end is not None:
                    self.on_epoch_end(record)
        module.load_state_dict(best)
        stopped = state["epoch"] < self.cfg.epochs
        return History(state["history"], state["best_epoch"], stopped)
