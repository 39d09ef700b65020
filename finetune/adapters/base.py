"""The adapter contract: which parameters train, at which learning rates, on what inputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import nn

from plugins.classifier import Classifier
from plugins.schema import option, require


@dataclass(frozen=True)
class AdapterConfig:
    """``backbone_lr_mult`` scales the backbone's learning rate; ``unfreeze`` counts blocks.

    ``lr_decay``: each block below the top trains at this times the rate of the block above
    (discriminative and gradual); ``unfreeze_every``: epochs between unfreezing one more block
    (gradual); ``lora_*``: rank, scale, dropout and target layer names (empty: by model type).
    """

    backbone_lr_mult: float = option(0.1, help="backbone learning rate / head learning rate (full, partial)")
    unfreeze: int = option(2, help="blocks trained by the partial adapter")
    lr_decay: float = option(0.8, help="gradual, discriminative: each block below the top trains at this "
                                       "times the rate of the block above")
    unfreeze_every: int = option(1, help="gradual: epochs between unfreezing one more block")
    lora_r: int = option(8, help="lora: rank")
    lora_alpha: float = option(16.0, help="lora: scale numerator (scale = alpha / r)")
    lora_dropout: float = option(0.0, help="lora: dropout on the adapter input")
    lora_targets: str = option("", help="lora: comma list of layer names (default: query,value for "
                                        "BERT-family encoders, every Linear and ungrouped Conv2d otherwise)")

    def __post_init__(self) -> None:
        require(self, [("lr_decay", 0 < self.lr_decay <= 1, "must be in (0, 1]"),
                       ("unfreeze_every", self.unfreeze_every >= 1, "must be at least 1"),
                       ("unfreeze", self.unfreeze >= 0, "must be 0 or more"),
                       ("lora_r", 1 <= self.lora_r <= 4096, "must be between 1 and 4096"),
                       ("lora_alpha", math.isfinite(self.lora_alpha) and self.lora_alpha > 0,
                        "must be positive"),
                       ("lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)"),
                       ("backbone_lr_mult",
                        math.isfinite(self.backbone_lr_mult) and self.backbone_lr_mult > 0,
                        "must be positive")])


@dataclass
class TrainPlan:
    """What the trainer runs: ``module`` on batch arguments, optimizing ``param_groups``.

    ``frozen`` modules stay in eval mode while training (batch-norm statistics kept);
    ``cache_features`` means ``module`` is the head and takes cached backbone features.
    ``epoch_hook(epoch)`` runs before each epoch (gradual unfreezing); ``finalize()`` runs once
    after training, before the bundle is written (LoRA merges its weights).
    """

    module: nn.Module
    param_groups: list[dict[str, Any]]
    frozen: list[nn.Module] = field(default_factory=list)
    cache_features: bool = False
    epoch_hook: Callable[[int], None] | None = None
    finalize: Callable[[], None] | None = None

    def trainable_count(self) -> int:
        """Number of parameters the optimizer updates."""
        return sum(p.numel() for g in self.param_groups for p in g["params"])


class Adapter(Protocol):
    """Turns a Classifier into a TrainPlan.

    ``options`` is the frozen dataclass of its settings (built-ins share ``AdapterConfig``); ``plan``
    receives an instance of it, built from the run's flags and ``adapter_options``.
    """

    name: str
    options: type

    def plan(self, model: Classifier, lr: float, cfg: Any) -> TrainPlan:
        """Freeze what stays fixed and return the plan."""
        ...


def freeze(module: nn.Module) -> None:
    """Stop gradients for every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(False)


def block_groups(model: Classifier, lr: float, cfg: AdapterConfig) -> list[dict[str, Any]]:
    """One parameter group per backbone block, the top block at ``lr * backbone_lr_mult`` and each
    block below at ``lr_decay`` times the one above; the head last, at ``lr``."""
    blocks = model.backbone.blocks()
    groups = []
    for depth, block in enumerate(reversed(blocks)):
        params = [p for m in block for p in m.parameters()]
        if params:
            rate = lr * cfg.backbone_lr_mult * cfg.lr_decay ** depth
            groups.append({"params": params, "lr": rate, "name": f"block {len(blocks) - depth}"})
    groups.reverse()
    groups.append({"params": list(model.head.parameters()), "lr": lr, "name": "head"})
    return groups
