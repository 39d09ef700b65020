"""How many bytes one example's activations take: counted from a real forward pass of one example."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


def activation_bytes(model: nn.Module, *inputs: Tensor, kept: bool = True) -> int:
    """Bytes one example needs beyond the model: its inputs plus twice the forward activations (leaf
    module outputs) that a backward pass keeps (``kept``), or twice the largest one (inference holds a
    layer's input and output).

    Shape: each input is (1, ...).
    """
    total, largest = [0], [0]

    def hook(_: nn.Module, __: Any, out: Any) -> None:
        if isinstance(out, Tensor):
            size = out.numel() * out.element_size()
            total[0] += size
            largest[0] = max(largest[0], size)

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return 2 * (total[0] if kept else largest[0]) + sum(x.numel() * x.element_size() for x in inputs)
