"""Training settings (frozen dataclass; CLI flags and YAML map onto it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from plugins.errors import RobustuneError

MAX_BATCH = 65536
MAX_LR = 1e6  # beyond this AdamW's step overflows float32 before any loss is seen


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer, schedule, loss and stopping settings."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    label_smoothing: float = 0.0
    class_weights: bool = False
    patience: int = 3
    seed: int = 0
    device: str = "auto"
    augment: str = "none"
    grad_clip: float = 1.0
    eval_batch_size: int = 128
    adversarial: str = "none"
    adv_eps: float = 2 / 255
    adv_steps: int = 7
    trades_beta: float = 6.0

    def __post_init__(self) -> None:
        floats = {"lr": self.lr, "weight_decay": self.weight_decay, "adv_eps": self.adv_eps,
                  "trades_beta": self.trades_beta, "grad_clip": self.grad_clip,
                  "warmup_fraction": self.warmup_fraction, "label_smoothing": self.label_smoothing}
        for name, value in floats.items():
            if not math.isfinite(value):
                raise RobustuneError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
        checks = [
            (1 <= self.epochs <= 100_000, "--epochs must be at least 1 (and at most 100000)"),
            (1 <= self.batch_size <= MAX_BATCH, f"--batch-size must be between 1 and {MAX_BATCH}"),
            (1 <= self.eval_batch_size <= MAX_BATCH, f"eval_batch_size must be between 1 and {MAX_BATCH}"),
            (0 < self.lr <= MAX_LR, f"--lr must be positive and at most {MAX_LR:g}"),
            (self.weight_decay >= 0, "--weight-decay must be 0 or more"),
            (self.grad_clip >= 0, "grad_clip must be 0 (off) or more"),
            (self.trades_beta >= 0, "--trades-beta must be 0 or more"),
            (0 <= self.seed < 2**32, "--seed must be between 0 and 2**32 - 1"),
            (0 <= self.warmup_fraction < 1, "--warmup-fraction must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "--label-smoothing must be in [0, 1)"),
            (self.patience >= 1, "--patience must be at least 1"),
            (self.device in ("auto", "cpu", "cuda"), "--device must be auto, cpu or cuda"),
            (self.adversarial in ("none", "pgd", "trades"), "--adversarial must be none, pgd or trades"),
            (0 < self.adv_eps <= 1, "--adv-eps must be in (0, 1], e.g. 2/255"),
            (self.adv_steps >= 1, "--adv-steps must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise RobustuneError(message)
