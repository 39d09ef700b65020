"""Batched inference: logits, cached features, and evaluation of a Classifier."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from finetune.batches import Inputs, iterate, model_args
from finetune.metrics import classification_metrics
from plugins.classifier import Classifier


@torch.no_grad()
def predict_logits(
    module: nn.Module, inputs: Inputs, batch_size: int = 128, device: torch.device | None = None
) -> Tensor:
    """Logits in eval mode. Shape: N inputs -> (N, K) on the CPU."""
    device = device or torch.device("cpu")
    was_training = module.training
    module.eval()
    out = [module(*model_args(b, device)).float().cpu() for b in iterate(inputs, batch_size)]
    module.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def compute_features(
    model: Classifier, inputs: Inputs, batch_size: int = 128, device: torch.device | None = None
) -> Inputs:
    """Backbone features once, for linear probing. Shape: N inputs -> {"features": (N, F)}."""
    device = device or torch.device("cpu")
    model.eval()
    feats = [
        model.forward_features(*model_args(b, device)).float().cpu()
        for b in iterate(inputs, batch_size)
    ]
    return {"features": torch.cat(feats)}


def evaluate(
    model: Classifier, inputs: Inputs, labels: Tensor, classes: list[str],
    batch_size: int = 128, device: torch.device | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``inputs``."""
    logits = predict_logits(model, inputs, batch_size, device)
    return classification_metrics(labels, logits.argmax(1), classes)
