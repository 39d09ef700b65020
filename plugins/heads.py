"""Classification heads: features (N, F) -> logits (N, K)."""

from __future__ import annotations

from torch import nn


def linear(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Dropout then one linear layer. Shape: (N, F) -> (N, K)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))
