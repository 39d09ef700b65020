"""Training settings (frozen dataclass; CLI flags and YAML map onto it)."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.errors import RobustuneError


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
        checks = [
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
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
