"""Full fine-tuning: everything trains, the backbone at ``backbone_lr_mult`` x the head's rate."""

from __future__ import annotations

from finetune.adapters.base import TrainPlan
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier


class Full:
    """All parameters, two learning rates."""

    name = "full"
    needs_pretrained = False

    options = AdapterConfig  # the built-in adapters share their options

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        for p in model.parameters():
            p.requires_grad_(True)
        return TrainPlan(
            module=model,
            param_groups=[
                {"params": list(model.backbone.parameters()), "lr": lr * cfg.backbone_lr_mult,
                 "name": "backbone"},
                {"params": list(model.head.parameters()), "lr": lr, "name": "head"},
            ],
        )


adapter = Full()
