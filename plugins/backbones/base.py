"""The backbone contract: features out, blocks for partial unfreezing, its own preprocessing."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn


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
