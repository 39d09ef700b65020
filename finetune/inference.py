"""Batched inference: logits, cached features, and evaluation of a Classifier."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from finetune.batches import Inputs, iterate, model_args, num_examples
from finetune.metrics import classification_metrics
from plugins.classifier import Classifier
from plugins.events import Events, Reporter, reporter

PIXEL_BUDGET = 128 * 224 * 224  # pixels per CPU inference batch: 128 images at 224 px, 2 at 1500 px
EVAL_BATCH = 128  # examples per inference batch on the CPU (a GPU takes the largest batch that fits)


def inference_batch(batch_size: int, side: int | None) -> int:
    """``batch_size``, lowered for large images so one inference batch stays near 128 x 224^2 pixels."""
    if side is None:
        return batch_size
    return max(1, min(batch_size, PIXEL_BUDGET // (side * side)))


def _batch_for(inputs: Inputs, batch_size: int, fitted: bool = False) -> int:
    if fitted:  # sized for the device's free memory by finetune/numerics/batch.py
        return batch_size
    pixels = inputs.get("pixels")
    return inference_batch(batch_size, int(pixels.shape[-1]) if pixels is not None else None)


@torch.no_grad()
def predict_logits(
    module: nn.Module, inputs: Inputs, batch_size: int = EVAL_BATCH, device: torch.device | None = None,
    fitted: bool = False,
) -> Tensor:
    """Logits in eval mode, in batches of ``batch_size`` (lowered for large images unless ``fitted``: sized
    for the device's memory). Shape: N inputs -> (N, K) on the CPU."""
    device = device or torch.device("cpu")
    was_training = module.training
    module.eval()
    batches = iterate(inputs, _batch_for(inputs, batch_size, fitted))
    out = [module(*model_args(b, device)).float().cpu() for b in batches]
    module.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def predict_with_features(
    model: Classifier, inputs: Inputs, batch_size: int = EVAL_BATCH, device: torch.device | None = None,
    fitted: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Logits and the penultimate features (what the head reads) in one pass; features None where the
    head reads token states or the model has no head. Shape: N inputs -> (N, K), (N, F) on the CPU."""
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Module):
        return predict_logits(model, inputs, batch_size, device, fitted), None
    seen: list[Tensor] = []
    hook = head.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().float().cpu()))
    try:
        logits = predict_logits(model, inputs, batch_size, device, fitted)
    finally:
        hook.remove()
    flat = bool(seen) and all(f.dim() == 2 for f in seen)
    return logits, torch.cat(seen) if flat else None


def trust_outputs(
    model: Classifier, record: dict[str, Any] | None, inputs: Inputs, batch_size: int = EVAL_BATCH,
    device: torch.device | None = None, fitted: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Logits, and the penultimate features where the trust ``record``'s unfamiliar score reads them (one
    pass either way). Shape: N inputs -> (N, K), (N, F) or None."""
    from robustness.uncertainty.record import needs_features

    if needs_features(record):
        return predict_with_features(model, inputs, batch_size, device, fitted)
    return predict_logits(model, inputs, batch_size, device, fitted), None


@torch.no_grad()
def compute_features(
    model: Classifier, inputs: Inputs, batch_size: int = EVAL_BATCH, device: torch.device | None = None,
    events: Events | Reporter | None = None, stage: str = "caching features",
) -> Inputs:
    """Backbone features once, for linear probing. Shape: N inputs -> {"features": (N, F)}.

    Progress goes to ``events`` as ``stage``; cancellation is checked between batches.
    """
    device = device or torch.device("cpu")
    model.eval()
    batch_size = _batch_for(inputs, batch_size)
    total = -(-num_examples(inputs) // batch_size)
    batches: Iterable[Inputs] = reporter(events).track(iterate(inputs, batch_size), stage, total)
    feats = [model.forward_features(*model_args(b, device)).float().cpu() for b in batches]
    if feats and feats[0].dim() == 3:  # token states of texts: pad each batch to the longest
        length = max(f.shape[1] for f in feats)
        feats = [torch.nn.functional.pad(f, (0, 0, 0, length - f.shape[1])) for f in feats]
    return {"features": torch.cat(feats)}


def evaluate(
    model: Classifier, inputs: Inputs, labels: Tensor, classes: list[str],
    batch_size: int = EVAL_BATCH, device: torch.device | None = None, fitted: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``inputs`` (``fitted``: ``batch_size`` was sized for the device's memory)."""
    logits = predict_logits(model, inputs, batch_size, device, fitted)
    return classification_metrics(labels, logits.argmax(1), classes)
