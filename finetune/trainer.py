"""The supervised trainer: cross-entropy, AdamW, warmup + cosine, over the shared epoch loop."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from finetune.adapters.base import TrainPlan
from finetune.adversarial import adversarial_loss
from finetune.augment import augment, parse_augment
from finetune.batches import Inputs, iterate, model_args, num_examples
from finetune.checkpoint import Parts
from finetune.config import TrainConfig
from finetune.distributed import share, sync_buffers, total, world, wrap
from finetune.inference import predict_logits
from finetune.loop import EpochLoop, History, seed_epoch
from plugins.errors import TrainingDiverged, opt
from plugins.events import Events, Reporter, reporter


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
        raise TrainingDiverged(f"training diverged: the loss became {value} in epoch {epoch + 1}; lower "
                               f"{opt('lr')} (it was {lr:g}) or check the data; no bundle was written",
                               field="lr")
    return value


def balanced_weights(labels: Tensor, num_classes: int) -> Tensor:
    """n / (K * count) per class (absent classes get weight 0)."""
    counts = torch.bincount(labels, minlength=num_classes).float()
    return torch.where(counts > 0, labels.numel() / (num_classes * counts.clamp_min(1)), 0.0)


class Trainer:
    """Runs a TrainPlan through the shared epoch loop; with ``checkpoint_dir`` it resumes."""

    def __init__(
        self, plan: TrainPlan, cfg: TrainConfig, device: torch.device, num_classes: int,
        checkpoint_dir: Path | None = None, events: Events | Reporter | None = None,
    ) -> None:
        self.plan = plan
        self.cfg = cfg
        self.device = device
        self.num_classes = num_classes
        self.checkpoint_dir = checkpoint_dir
        self.events = reporter(events)
        self.augment = parse_augment(cfg.augment)
        self.params = [p for g in plan.param_groups for p in g["params"]]  # clipped every step
        self.forward: torch.nn.Module = plan.module

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
               optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, float]:
        gen = seed_epoch(self.cfg.seed, epoch)
        order = torch.randperm(num_examples(inputs), generator=gen)
        if self.plan.epoch_hook is not None:
            self.plan.epoch_hook(epoch)
        self._train_mode()
        stage = f"epoch {epoch + 1}/{self.cfg.epochs}"
        total_loss, correct, seen = 0.0, 0, 0
        w = world()
        ranks = w.size if w is not None else 1
        for whole in iterate({**inputs, "_y": labels}, self.cfg.batch_size, order):
            self.events.check()
            batch = share(whole)  # this rank's part of the global batch
            if batch is None:
                continue
            y = batch.pop("_y").to(self.device)
            args = model_args(batch, self.device)
            if self.augment and "pixels" in batch:
                args = (augment(args[0], self.augment),)
            if self.cfg.noise_train > 0 and "pixels" in batch:  # Gaussian data augmentation (not clamped)
                args = (args[0] + self.cfg.noise_train * torch.randn_like(args[0]),)
            if self.cfg.adversarial != "none" and "pixels" in batch:
                loss, logits = adversarial_loss(self.plan.module, args[0], y, self.cfg, loss_fn,
                                                self._train_mode)
            else:
                logits = self.forward(*args)
                loss = loss_fn(logits, y)
            value = finite_loss(float(loss.detach()), epoch, self.cfg.lr)
            optimizer.zero_grad(set_to_none=True)
            if ranks > 1:  # DDP averages over ranks: weigh each share by its size, as one whole batch
                loss = loss * (len(y) * ranks / num_examples(whole))
            loss.backward()
            if self.cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            total_loss += value * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            done = min(seen * ranks, len(order))
            self.events.progress(stage, done, len(order),
                                 f"loss {total_loss / seen:.3f} acc {correct / seen:.3f}",
                                 overall=(epoch + done / max(1, len(order))) / self.cfg.epochs)
        sync_buffers(self.plan.module)
        loss_sum, right, count = total([total_loss, correct, seen])  # over every rank
        return {"train_loss": loss_sum / count, "train_accuracy": right / count}

    def _validate(self, inputs: Inputs, labels: Tensor) -> dict[str, float]:
        logits = predict_logits(self.plan.module, inputs, self.cfg.eval_batch_size, self.device)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == labels).float().mean()
        return {"val_loss": float(loss), "val_accuracy": float(acc)}

    def fit(self, train: Inputs, y_train: Tensor, val: Inputs, y_val: Tensor) -> History:
        """Train with early stopping on validation accuracy; restore the best epoch's weights."""
        module = self.plan.module.to(self.device)
        self.forward = wrap(module, self.device)  # DDP under --nproc: gradients averaged across ranks
        optimizer = torch.optim.AdamW(self.plan.param_groups, weight_decay=self.cfg.weight_decay)
        steps = self.cfg.epochs * math.ceil(num_examples(train) / self.cfg.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(steps, self.cfg.warmup_fraction)
        )
        parts = Parts({"model": module}, {"adamw": optimizer}, {"schedule": scheduler})
        loop = EpochLoop(parts, self.cfg.epochs, self.cfg.seed, self.cfg.stop_patience(), self.checkpoint_dir,
                         self.events)
        loss_fn = self._loss(y_train)
        return loop.run(lambda e: self._epoch(e, train, y_train, loss_fn, optimizer, scheduler),
                        lambda e: self._validate(val, y_val))
