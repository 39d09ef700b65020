"""The backbone contract: features out, blocks for partial unfreezing, its own preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor, nn

from plugins.errors import RobustuneError

WEIGHT_SOURCES = ("auto", "hub", "packaged", "none")
MAX_IMAGE_SIZE = 4096  # pixels per side
MAX_LENGTH = 8192  # tokens


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

    def __post_init__(self) -> None:
        checks = [
            (bool(self.weights), "--weights must not be empty: auto, hub, packaged, none or a path"),
            (self.image_size is None or 1 <= self.image_size <= MAX_IMAGE_SIZE,
             f"--image-size must be between 1 and {MAX_IMAGE_SIZE}"),
            (1 <= self.max_length <= MAX_LENGTH, f"--max-length must be between 1 and {MAX_LENGTH}"),
            (self.pooling in ("mean", "cls"), "--pooling must be mean or cls"),
        ]
        for ok, message in checks:
            if not ok:
                raise RobustuneError(message)


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
