"""From-scratch training: every parameter trains at the one learning rate."""

from __future__ import annotations

from finetune.adapters.base import TrainPlan
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier


class Scratch:
    """One parameter group; the default for from-scratch models."""

    name = "scratch"
    needs_pretrained = False

    options = AdapterConfig  # the built-in adapters share their options

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        for p in model.parameters():
            p.requires_grad_(True)
        return TrainPlan(module=model, param_groups=[{"params": list(model.parameters()), "lr": lr,
                                                      "name": "all"}])


adapter = Scratch()
