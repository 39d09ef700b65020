"""Linear probe: backbone frozen, its features computed once and cached; only the head trains."""

from __future__ import annotations

from typing import Any

from finetune.adapters.base import TrainPlan, freeze
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier


class LinearProbe:
    """Head-only training on cached features."""

    name = "linear-probe"

    options = AdapterConfig  # the built-in adapters share their options

    def preferred_recipe(self, cfg: Any) -> str | None:
        """``lbfgs`` (solve the head) for a linear head without adversarial training, which needs the
        backbone in every step; else the run's default."""
        return "lbfgs" if cfg.head == "linear" and cfg.train.adversarial == "none" else None

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        freeze(model.backbone)
        params = list(model.head.parameters())
        return TrainPlan(
            module=model.head,
            param_groups=[{"params": params, "lr": lr, "name": "head"}],
            frozen=[model.backbone],
            cache_features=True,
        )


adapter = LinearProbe()
