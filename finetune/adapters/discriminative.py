"""Discriminative learning rates (Howard & Ruder 2018): every block trains, lower blocks slower."""

from __future__ import annotations

from finetune.adapters.base import TrainPlan, block_groups
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier


class Discriminative:
    """One learning rate per block: ``lr * backbone_lr_mult * lr_decay ** depth_from_top``."""

    name = "discriminative"
    needs_pretrained = False

    options = AdapterConfig  # the built-in adapters share their options

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        for p in model.parameters():
            p.requires_grad_(True)
        return TrainPlan(module=model, param_groups=block_groups(model, lr, cfg))


adapter = Discriminative()
