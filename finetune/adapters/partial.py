"""Partial fine-tuning: the last N backbone blocks and the head train; earlier blocks frozen."""

from __future__ import annotations

from finetune.adapters.base import TrainPlan, freeze
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier
from plugins.errors import InvalidInput, opt


class Partial:
    """Unfreeze ``cfg.unfreeze`` blocks counted from the output end."""

    name = "partial"

    options = AdapterConfig  # the built-in adapters share their options

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        blocks = model.backbone.blocks()
        if not 1 <= cfg.unfreeze <= len(blocks):
            raise InvalidInput(
                f"{opt('unfreeze')} {cfg.unfreeze} is out of range: this backbone has {len(blocks)} blocks"
                , field='unfreeze')
        freeze(model.backbone)
        cut = len(blocks) - cfg.unfreeze
        frozen = [m for group in blocks[:cut] for m in group]
        trainable = [p for group in blocks[cut:] for m in group for p in m.parameters()]
        for p in trainable:
            p.requires_grad_(True)
        for p in model.head.parameters():
            p.requires_grad_(True)
        return TrainPlan(
            module=model,
            param_groups=[
                {"params": trainable, "lr": lr * cfg.backbone_lr_mult, "name": "backbone"},
                {"params": list(model.head.parameters()), "lr": lr, "name": "head"},
            ],
            frozen=frozen,
        )


adapter = Partial()
