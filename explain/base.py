"""The explainer contract: a Classifier and inputs in, attributions of the input's shape out.

An explainer names its Captum method (``captum``) and that method's arguments (``kwargs``);
``Explainer.__call__`` does the shared work: eval mode, parameter gradients off and restored,
a seeded RNG, batching, and the guarantee that the result has the input's shape. Calling Captum
directly with ``captum(model)`` and ``kwargs(x)`` gives the same numbers (a test checks it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from explain.config import ExplainConfig
from plugins.footprint import activation_bytes
from plugins.modes import frozen_eval

MEMORY_BUDGET = 1 << 30  # bytes of activations one internal batch may hold (CPU default)


explain_mode = frozen_eval  # the shared mode for attributions (plugins/modes.py)
__all__ = ["Explainer", "activation_bytes", "auto_internal_batch", "explain_mode"]


def auto_internal_batch(model: nn.Module, x: Tensor, n_steps: int, budget: int = MEMORY_BUDGET,
                        extra: tuple[Tensor, ...] = ()) -> int:
    """Path points per internal batch so that activations stay under ``budget`` bytes."""
    per_example = max(activation_bytes(model, x[:1], *(e[:1] for e in extra)), 1)
    return max(1, min(n_steps * len(x), budget // per_example))


class Explainer:
    """An attribution method over Captum; subclasses write ``captum`` and ``kwargs``."""

    name: ClassVar[str]
    modalities: ClassVar[tuple[str, ...]] = ("image",)

    options: ClassVar[type | None] = None  # a frozen dataclass of the explainer's own settings, if any

    def __init__(self, cfg: ExplainConfig | None = None, options: Any = None) -> None:
        self.cfg = cfg or ExplainConfig()
        self.opts = options if options is not None else (self.options() if self.options else None)

    def captum(self, model: nn.Module) -> Any:
        """The Captum attribution object for ``model``."""
        raise NotImplementedError

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        """Arguments to Captum's ``attribute`` besides inputs and target."""
        return {}

    def passes_per_input(self) -> int:
        """Inputs the method runs at once per input explained (noisy copies, occluded copies), for
        sizing its batch to the device's memory."""
        return 1

    def explain_tokens(self, model: nn.Module, tokenizer: Any, ids: Tensor, mask: Tensor,
                       target: Tensor) -> Tensor:
        """Per-token scores for text models (explainers with "text" in ``modalities``).

        Shape: (N, L) ids, (N, L) mask, (N,) -> (N, L).
        """
        raise NotImplementedError

    def finish(self, attributions: Tensor, x: Tensor) -> Tensor:
        """Bring Captum's output to the input's shape (layer methods upsample here)."""
        return attributions

    def __call__(self, model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
        """Attributions for class ``target``. Shape: (N, C, H, W), (N,) -> (N, C, H, W)."""
        out = []
        with explain_mode(model, self.cfg.seed):
            method = self.captum(model)
            for i in range(0, len(x), self.cfg.batch_size):
                xb = x[i : i + self.cfg.batch_size].detach().requires_grad_(True)
                tb = target[i : i + self.cfg.batch_size]
                attr = method.attribute(xb, target=tb, **self.kwargs(model, xb))
                out.append(self.finish(attr.detach(), xb.detach()))
        result = torch.cat(out)
        if result.shape != x.shape:
            raise AssertionError(f"{self.name} returned {tuple(result.shape)} for input {tuple(x.shape)}")
        return result
