"""Gradual unfreezing (Howard & Ruder 2018): the head first, then one more block every few epochs."""

from __future__ import annotations

from finetune.adapters.base import TrainPlan, block_groups, freeze
from finetune.adapters.config import AdapterConfig
from plugins.classifier import Classifier


class Gradual:
    """Epoch e trains the head and the top ``e // unfreeze_every`` blocks, at discriminative rates."""

    name = "gradual"

    options = AdapterConfig  # the built-in adapters share their options

    def plan(self, model: Classifier, lr: float, cfg: AdapterConfig) -> TrainPlan:
        blocks = model.backbone.blocks()
        freeze(model.backbone)
        for p in model.head.parameters():
            p.requires_grad_(True)
        plan = TrainPlan(module=model, param_groups=block_groups(model, lr, cfg),
                         frozen=[m for block in blocks for m in block])

        def unfreeze(epoch: int) -> None:
            """Frozen parameters get no gradient, so the optimizer leaves them (and their decay) alone."""
            cut = max(0, len(blocks) - epoch // cfg.unfreeze_every)
            for i, block in enumerate(blocks):
                for m in block:
                    m.requires_grad_(i >= cut)
            plan.frozen[:] = [m for block in blocks[:cut] for m in block]

        plan.epoch_hook = unfreeze
        return plan


adapter = Gradual()
