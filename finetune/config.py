"""Training settings (frozen dataclass; CLI flags and YAML map onto it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from plugins.errors import Unsupported, opt
from plugins.numerics import PRECISION_HELP, PRECISIONS
from plugins.schema import option, require

MAX_BATCH = 65536
MIN_PATIENCE = 3
LAUNCHERS = ("auto", "torch", "ray")
MAX_LR = 1e6  # beyond this AdamW's step overflows float32 before any loss is seen


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer, schedule, loss and stopping settings."""

    epochs: int = option(10, ge=1, le=100_000, help="at most this many epochs (AdamW)")
    batch_size: int = option(32, ge=1, le=MAX_BATCH, help="examples per training step")
    lr: float = option(1e-3, gt=0, le=MAX_LR, help="learning rate of the head (AdamW)")
    weight_decay: float = option(0.01, ge=0, help="AdamW weight decay")
    warmup_fraction: float = option(0.1, ge=0, lt=1,
                                    help="share of the steps with a linear warmup, then cosine decay")
    label_smoothing: float = option(0.0, ge=0, lt=1, help="cross-entropy label smoothing")
    class_weights: bool = option(False, help="balanced class weights in the loss")
    patience: int = option(0, ge=0, help="epochs without a better validation accuracy before stopping, the "
                                   "best epoch's weights restored (0: a quarter of the epochs, at least 3)")
    seed: int = option(0, ge=0, le=2**32 - 1, help="splits, initialization, order, dropout and augmentation")
    device: str = option("auto", choices=("auto", "cpu", "cuda"),
                         help="auto (a GPU when present), cpu or cuda")
    precision: str = option("auto", choices=PRECISIONS, help=PRECISION_HELP)
    augment: str = option("none", help="images: comma list of shift, flip, color (not with linear-probe)")
    noise_train: float = option(0.0, ge=0, le=4,
                                help="images: train on pixels with Gaussian noise of this standard deviation "
                                     "(Cohen et al.'s recipe for randomized smoothing; audit --certify then "
                                     "uses it as its sigma; 0: off)")
    grad_clip: float = option(1.0, ge=0, help="gradient norm clip (0: off)", cli=False)
    eval_batch_size: int = option(128, ge=1, le=MAX_BATCH,
                                  help="examples per inference batch (lowered for large images)",
                                  cli=False)
    adversarial: str = option("none", choices=("none", "pgd", "trades"),
                              help="adversarial training: none, pgd or trades")
    adv_eps: float = option(2 / 255, gt=0, le=1,
                            help="adversarial training budget, Linf in pixels (e.g. 2/255)",
                            parse="number")
    adv_steps: int = option(7, ge=1, help="attack steps per adversarial batch")
    trades_beta: float = option(6.0, ge=0, help="TRADES robustness weight")
    nproc: int = option(1, ge=1, le=1024,
                        help="training processes on this machine: data-parallel (DDP; gloo on CPU, NCCL "
                             "on GPU), each on its share of every --batch-size batch")
    nnodes: int = option(1, ge=1, le=1024, service=False,
                         help="machines in a --nproc training: run the same command on each, with its "
                                 "--node-rank")
    node_rank: int = option(0, ge=0, service=False,
                            help="this machine's index among --nnodes (0 writes the checkpoints and the "
                                    "bundle)")
    master_addr: str = option("127.0.0.1", service=False,
                              help="address of the --node-rank 0 machine (--nnodes > 1)")
    master_port: int = option(0, ge=0, le=65535, service=False,
                              help="rendezvous port on --master-addr (0: a free one; 29500 with --nnodes "
                                      "> 1)")
    launcher: str = option("auto", choices=LAUNCHERS,
                           help="how --nproc > 1 starts its processes: torch (here, torchrun-style) "
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
        require(self, [
            ("node_rank", self.node_rank < self.nnodes, f"must be between 0 and {opt('nnodes')} - 1"),
            ("batch_size", self.batch_size >= self.world_size,
             f"must be at least the {self.world_size} training processes (it is split across "
             "them)"),
            ("adversarial", self.adversarial == "none" or self.world_size == 1,
             f"runs in one process: drop {opt('nproc')} (adversarial batches are not split across "
             "processes)"),
        ], Unsupported)
