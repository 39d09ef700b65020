"""The adapter contract: which parameters train, at which learning rates, on what inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import nn

from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier

__all__ = ["Adapter", "AdapterConfig", "TrainPlan"]


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
