"""Training settings (frozen dataclass; CLI flags and YAML map onto it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from plugins.errors import opt
from plugins.numerics import PRECISION_HELP, PRECISIONS
from plugins.schema import option, require

MAX_BATCH = 65536
MIN_PATIENCE = 3
LAUNCHERS = ("auto", "torch", "ray")
MAX_LR = 1e6  # beyond this AdamW's step overflows float32 before any loss is seen


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer, schedule, loss and stopping settings."""

    epochs: int = option(10, help="at most this many epochs (AdamW)")
    batch_size: int = option(32, help="examples per training step")
    lr: float = option(1e-3, help="learning rate of the head (AdamW)")
    weight_decay: float = option(0.01, help="AdamW weight decay")
    warmup_fraction: float = option(0.1, help="share of the steps with a linear warmup, then cosine decay")
    label_smoothing: float = option(0.0, help="cross-entropy label smoothing")
    class_weights: bool = option(False, help="balanced class weights in the loss")
    patience: int = option(0, help="epochs without a better validation accuracy before stopping, the "
                                   "best epoch's weights restored (0: a quarter of the epochs, at least 3)")
    seed: int = option(0, help="splits, initialization, order, dropout and augmentation")
    device: str = option("auto", help="auto (a GPU when present), cpu or cuda")
    precision: str = option("auto", help=PRECISION_HELP)
    augment: str = option("none", help="images: comma list of shift, flip, color (not with linear-probe)")
    grad_clip: float = option(1.0, help="gradient norm clip (0: off)", cli=False)
    eval_batch_size: int = option(128, help="examples per inference batch (lowered for large images)",
                                  cli=False)
    adversarial: str = option("none", help="adversarial training: none, pgd or trades")
    adv_eps: float = option(2 / 255, help="adversarial training budget, Linf in pixels (e.g. 2/255)",
                            parse="number")
    adv_steps: int = option(7, help="attack steps per adversarial batch")
    trades_beta: float = option(6.0, help="TRADES robustness weight")
    nproc: int = option(1, help="training processes on this machine: data-parallel (DDP; gloo on CPU, NCCL "
                                "on GPU), each on its share of every --batch-size batch")
    nnodes: int = option(1, service=False,
                         help="machines in a --nproc training: run the same command on each, with its "
                                 "--node-rank")
    node_rank: int = option(0, service=False,
                            help="this machine's index among --nnodes (0 writes the checkpoints and the "
                                    "bundle)")
    master_addr: str = option("127.0.0.1", service=False,
                              help="address of the --node-rank 0 machine (--nnodes > 1)")
    master_port: int = option(0, service=False,
                              help="rendezvous port on --master-addr (0: a free one; 29500 with --nnodes "
                                      "> 1)")
    launcher: str = option("auto", help="how --nproc > 1 starts its processes: torch (here, torchrun-style) "
                                        "or ray (a Ray Train TorchTrainer on the Ray cluster); auto: ray "
                                        "in a job of serve --executor ray, else torch")

    @property
    def world_size(self) -> int:
        """Training processes in all: ``nproc * nnodes``."""
        return self.nproc * self.nnodes

    def stop_patience(self) -> int:
        """Early-stopping patience: ``patience``, or a quarter of the epochs (at least 3) when 0."""
        return self.patience or max(MIN_PATIENCE, math.ceil(self.epochs / 4))

    def __post_init__(self) -> None:
        floats = ("lr", "weight_decay", "adv_eps", "trades_beta", "grad_clip", "warmup_fraction",
                  "label_smoothing")
        require(self, [(name, math.isfinite(getattr(self, name)), "must be a finite number")
                       for name in floats])
        require(self, [
            ("epochs", 1 <= self.epochs <= 100_000, "must be at least 1 (and at most 100000)"),
            ("batch_size", 1 <= self.batch_size <= MAX_BATCH, f"must be between 1 and {MAX_BATCH}"),
            ("eval_batch_size", 1 <= self.eval_batch_size <= MAX_BATCH, f"must be between 1 and {MAX_BATCH}"),
            ("lr", 0 < self.lr <= MAX_LR, f"must be positive and at most {MAX_LR:g}"),
            ("weight_decay", self.weight_decay >= 0, "must be 0 or more"),
            ("grad_clip", self.grad_clip >= 0, "must be 0 (off) or more"),
            ("trades_beta", self.trades_beta >= 0, "must be 0 or more"),
            ("seed", 0 <= self.seed < 2**32, "must be between 0 and 2**32 - 1"),
            ("warmup_fraction", 0 <= self.warmup_fraction < 1, "must be in [0, 1)"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "must be in [0, 1)"),
            ("patience", self.patience >= 0, "must be 0 (a quarter of the epochs) or more"),
            ("device", self.device in ("auto", "cpu", "cuda"), "must be auto, cpu or cuda"),
            ("precision", self.precision in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}"),
            ("adversarial", self.adversarial in ("none", "pgd", "trades"), "must be none, pgd or trades"),
            ("adv_eps", 0 < self.adv_eps <= 1, "must be in (0, 1], e.g. 2/255"),
            ("adv_steps", self.adv_steps >= 1, "must be at least 1"),
            ("nproc", 1 <= self.nproc <= 1024, "must be between 1 and 1024"),
            ("nnodes", 1 <= self.nnodes <= 1024, "must be between 1 and 1024"),
            ("node_rank", 0 <= self.node_rank < self.nnodes, f"must be between 0 and {opt('nnodes')} - 1"),
            ("master_port", 0 <= self.master_port <= 65535, "must be a port (0: choose one)"),
            ("launcher", self.launcher in LAUNCHERS, f"must be one of {', '.join(LAUNCHERS)}"),
            ("batch_size", self.batch_size >= self.world_size,
             f"must be at least the {self.world_size} training processes (it is split across "
             "them)"),
            ("adversarial", self.adversarial == "none" or self.world_size == 1,
             f"runs in one process: drop {opt('nproc')} (adversarial batches are not split across "
             "processes)"),
        ])
