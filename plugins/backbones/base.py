"""The backbone contract: features out, blocks for partial unfreezing, its own preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor, nn

WEIGHT_SOURCES = ("auto", "hub", "packaged", "none")


@dataclass(frozen=True)
class BackboneConfig:
    """How to build a backbone.

    ``weights``: ``auto`` (packaged when this machine has them, else hub), ``hub``,
    ``packaged``, ``none`` or a local path (safetensors, ``.pth`` state dict, HF folder).
    ``options``: a from-scratch model's own settings (``--model-options depth=3,width=32``).
    """

    weights: str = "auto"
    image_size: int | None = None
    max_length: int = 128
    pooling: str = "mean"
    model_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # from-scratch models' own sizes


class Backbone(nn.Module):
    """A feature extractor: ``forward_features`` gives ``(N, num_features)``."""

    modality: ClassVar[str]
    num_features: int
    name: str

    def forward_features(self, *inputs: Tensor) -> Tensor:
        """Pooled features. Shape: inputs -> (N, num_features)."""
        raise NotImplementedError

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.forward_features(*inputs)

    def blocks(self) -> list[list[nn.Module]]:
        """Groups of modules from input to output (for partial unfreezing)."""
        raise NotImplementedError

    def preprocessing(self) -> dict[str, Any]:
        """Preprocessing the backbone expects (input size, mean, std; or max length)."""
        raise NotImplementedError

    def arch(self) -> dict[str, Any]:
        """JSON that rebuilds this architecture without weights (stored in bundles)."""
        raise NotImplementedError
