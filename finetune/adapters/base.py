"""The adapter contract: which parameters train, at which learning rates, on what inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import nn

from plugins.classifier import Classifier


@dataclass(frozen=True)
class AdapterConfig:
    """``backbone_lr_mult`` scales the backbone's learning rate; ``unfreeze`` counts blocks."""

    backbone_lr_mult: float = 0.1
    unfreeze: int = 2


@dataclass
class TrainPlan:
    """What the trainer runs: ``module`` on batch arguments, optimizing ``param_groups``.

    ``frozen`` modules stay in eval mode while training (batch-norm statistics kept);
    ``cache_features`` means ``module`` is the head and takes cached backbone features.
    """

    module: nn.Module
    param_groups: list[dict[str, Any]]
    frozen: list[nn.Module] = field(default_factory=list)
    cache_features: bool = False

    def trainable_count(self) -> int:
        """Number of parameters the optimizer updates."""
        return sum(p.numel() for g in self.param_groups for p in g["params"])


class Adapter(Protocol):
    """Turns a Classifier into a TrainPlan."""

    name: str

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        """Freeze what stays fixed and return the plan."""
        ...


def freeze(module: nn.Module) -> None:
    """Stop gradients for every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(False)
