"""Running a model for attacks and attributions: eval mode, frozen parameters, seeded RNGs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters are (the CPU for a model without any)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@contextmanager
def frozen_eval(model: nn.Module, seed: int) -> Iterator[None]:
    """Eval mode, no parameter gradients, seeded torch and NumPy RNGs (Captum and torchattacks
    draw from both) inside; the model's mode, its gradient flags and the RNG states are restored."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    numpy_state = np.random.get_state()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            np.random.seed(seed)
            yield
    finally:
        np.random.set_state(numpy_state)
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
