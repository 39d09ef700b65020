"""The backbone contract: features out, blocks for partial unfreezing, its own preprocessing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor, nn

from plugins.schema import option, require

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

    weights: str = option("auto", help="auto (packaged if installed, else hub), hub, packaged, none, or a "
                                       "local path: safetensors, .pth state dict or an HF-style folder")
    image_size: int | None = option(None, help="input size (default: the backbone's own)")
    max_length: int = option(128, help="texts: longest input in tokens")
    pooling: str = option("mean", help="texts: mean or cls pooling")
    model_id: str | None = option(None, help="texts: hub id for --weights hub")
    options: dict[str, Any] = option(help="from-scratch models' own settings, KEY=VALUE,... (see Model zoo)",
                                     flag="model-options", parse="kv", default_factory=dict)

    def __post_init__(self) -> None:
        require(self, [
            ("weights", bool(self.weights), "must not be empty: auto, hub, packaged, none or a path"),
            ("image_size", self.image_size is None or 1 <= self.image_size <= MAX_IMAGE_SIZE,
             f"must be between 1 and {MAX_IMAGE_SIZE}"),
            ("max_length", 1 <= self.max_length <= MAX_LENGTH, f"must be between 1 and {MAX_LENGTH}"),
            ("pooling", self.pooling in ("mean", "cls"), "must be mean or cls"),
        ])


class Backbone(nn.Module):
    """A feature extractor: ``forward_features`` gives ``(N, num_features)``."""

    modality: ClassVar[str]
    num_features: int
    name: str
    source: str = ""  # where the weights came from, for people (set by the factory that loaded them)

    def identity(self) -> str:
        """The real model behind the plugin, e.g. ``sentence-transformers/all-MiniLM-L6-v2 (packaged)``."""
        return f"{self.name} ({self.source})" if self.source else self.name

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
