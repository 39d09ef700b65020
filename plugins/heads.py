"""Classification heads: features (N, F) -> logits (N, K)."""

from __future__ import annotations

from torch import nn


def linear(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Dropout then one linear layer. Shape: (N, F) -> (N, K)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))


def identity(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """No head: the backbone already gives one logit per class. Shape: (N, K) -> (N, K)."""
    from plugins.errors import RobustuneError

    if in_features != num_classes:
        raise RobustuneError(f"the identity head needs a backbone with one output per class ({num_classes}), "
                             f"this one gives {in_features}; use --head linear")
    return nn.Identity()


def mlp(in_features: int, num_classes: int, dropout: float = 0.0, hidden: int = 256) -> nn.Module:
    """One hidden layer with GELU between dropouts. Shape: (N, F) -> (N, K)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, num_classes))
