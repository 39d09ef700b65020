"""The ``supervised`` recipe: cross-entropy on the labeled split through the Trainer."""

from __future__ import annotations

from finetune.recipes.base import GRADIENT_SETTINGS, FitContext, FitOutcome
from finetune.trainer import Trainer
from plugins.classifier import Classifier


class Supervised:
    """Labeled examples only; unlabeled ones (if any) are left out."""

    name = "supervised"
    settings = GRADIENT_SETTINGS
    distributed = True  # runs under --nproc (DDP)

    def check(self, model: Classifier, has_unlabeled: bool) -> None:
        """Every model trains this way."""

    def fit(self, ctx: FitContext) -> FitOutcome:
        trainer = Trainer(ctx.plan, ctx.train_cfg, ctx.device, ctx.num_classes, ctx.checkpoint_dir,
                          ctx.events)
        return FitOutcome(trainer.fit(ctx.train, ctx.y_train, ctx.val, ctx.y_val))


recipe = Supervised()
