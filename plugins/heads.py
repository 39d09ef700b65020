"""Classification heads: features (N, F) -> logits (N, K)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence


def linear(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Dropout then one linear layer. Shape: (N, F) -> (N, K)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))


def identity(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """No head: the backbone already gives one logit per class. Shape: (N, K) -> (N, K)."""
    from plugins.errors import InvalidInput, opt

    if in_features != num_classes:
        raise InvalidInput(f"the identity head needs a backbone with one output per class ({num_classes}), "
                           f"this one gives {in_features}; use {opt('head')} linear")
    return nn.Identity()


def mlp(in_features: int, num_classes: int, dropout: float = 0.0, hidden: int = 256) -> nn.Module:
    """One hidden layer with GELU between dropouts. Shape: (N, F) -> (N, K)."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, num_classes))


class LSTMHead(nn.Module):
    """A bidirectional LSTM over a text backbone's token states, its last states to logits.

    Takes ``(N, L, F + 1)``: token states with the attention mask as the last channel (what
    ``TextClassifier`` gives a head with ``token_states``). Shape: (N, L, F + 1) -> (N, K).
    """

    token_states = True

    def __init__(self, in_features: int, num_classes: int, dropout: float, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(in_features, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        states, mask = x[..., :-1], x[..., -1]
        lengths = mask.sum(1).long().cpu().clamp_min(1)
        packed = pack_padded_sequence(states, lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.out(self.drop(torch.cat([h[-2], h[-1]], 1)))  # type: ignore[no-any-return]


def lstm(in_features: int, num_classes: int, dropout: float = 0.0, hidden: int = 128) -> nn.Module:
    """Bidirectional LSTM over token states (text backbones). Shape: (N, L, F + 1) -> (N, K)."""
    return LSTMHead(in_features, num_classes, dropout, hidden)
