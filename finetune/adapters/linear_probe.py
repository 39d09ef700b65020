"""Linear probe: backbone frozen, its features computed once and cached; only the head trains."""

from __future__ import annotations

from finetune.adapters.base import AdapterConfig, TrainPlan, freeze
from plugins.classifier import Classifier


class LinearProbe:
    """Head-only training on cached features."""

    name = "linear-probe"

    options = AdapterConfig  # the built-in adapters share their options

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
