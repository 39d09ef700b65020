"""Batching dicts of tensors and turning a batch into a model's positional arguments."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

Inputs = dict[str, Tensor]


def num_examples(inputs: Inputs) -> int:
    """N, the first dimension shared by every tensor."""
    return int(next(iter(inputs.values())).shape[0])


def iterate(inputs: Inputs, batch_size: int, order: Tensor | None = None) -> Iterator[Inputs]:
    """Batches of ``inputs`` in ``order`` (default: as stored)."""
    n = num_examples(inputs)
    index = order if order is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        sel = index[start : start + batch_size]
        yield {k: v[sel] for k, v in inputs.items()}


def model_args(batch: Inputs, device: torch.device) -> tuple[Tensor, ...]:
    """Positional arguments for a Classifier (or its head on cached features).

    Shape: pixels uint8 (N, 3, H, W) -> float in [0, 1]; token batches are trimmed to their
    longest text; cached features pass through.
    """
    if "pixels" in batch:
        pixels = batch["pixels"].to(device).float().div_(255.0)
        return (pixels.contiguous(memory_format=torch.channels_last),)
    if "input_ids" in batch:
        mask = batch["attention_mask"]
        length = max(int(mask.sum(1).max()), 1)
        return batch["input_ids"][:, :length].to(device), mask[:, :length].to(device)
    return (batch["features"].to(device),)
