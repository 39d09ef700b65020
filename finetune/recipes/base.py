"""The recipe contract: how a prepared model learns from prepared inputs (the run does the rest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from finetune.adapters.base import TrainPlan
from finetune.batches import Inputs
from finetune.config import TrainConfig
from finetune.trainer import History
from plugins.classifier import Classifier
from plugins.events import Reporter


@dataclass
class FitContext:
    """Everything a recipe needs: the model and its plan, the split inputs, where to checkpoint.

    ``unlabeled`` holds the training examples whose labels were set aside (``--labeled-per-class``).
    """

    model: Classifier
    plan: TrainPlan
    train_cfg: TrainConfig
    device: torch.device
    num_classes: int
    train: Inputs
    y_train: Tensor
    val: Inputs
    y_val: Tensor
    unlabeled: Inputs | None = None
    checkpoint_dir: Path | None = None
    events: Reporter = field(default_factory=Reporter)


@dataclass
class FitOutcome:
    """The history (best epoch restored) and anything the recipe adds to the bundle's record."""

    history: History
    extra: dict[str, Any] = field(default_factory=dict)
    # a recipe whose final weights also learned from the validation split gives the validation
    # logits of the weights it chose before that; the bundle's validation metrics come from them
    val_logits: Tensor | None = None


GRADIENT_SETTINGS = ("epochs", "lr", "batch_size", "weight_decay", "adversarial", "adv_eps", "noise_train",
                     "best_epoch")


class Recipe(Protocol):
    """A training recipe plugin; ``settings``: the training options it uses (a model card lists only
    those)."""

    name: str
    settings: tuple[str, ...]

    def check(self, model: Classifier, has_unlabeled: bool) -> None:
        """Raise a RobustuneError before any work when the recipe cannot run on this setup."""
        ...

    def fit(self, ctx: FitContext) -> FitOutcome:
        """Train ``ctx.model`` in place."""
        ...
