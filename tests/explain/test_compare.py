"""Rank correlation and top-k overlap against scipy and hand-made cases."""

from __future__ import annotations

import torch
from scipy.stats import spearmanr

from explain.compare import rank_correlation, top_k_overlap


def test_rank_correlation_equals_scipy() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 3, 5, 5, generator=g), torch.randn(4, 3, 5, 5, generator=g)
    ours = rank_correlation(a, b)
    for i in range(4):
        ref = spearmanr(a[i].flatten().numpy(), b[i].flatten().numpy()).statistic
        assert abs(float(ours[i]) - ref) < 1e-5
    assert torch.allclose(rank_correlation(a, a), torch.ones(4))
    assert torch.allclose(rank_correlation(a, -a), -torch.ones(4))


def test_top_k_overlap() -> None:
    a = torch.tensor([[5.0, 4, 3, 2, 1]])
    assert float(top_k_overlap(a, a, 2)) == 1.0
    assert float(top_k_overlap(a, torch.tensor([[1.0, 2, 3, 4, 5]]), 2)) == 0.0
    assert float(top_k_overlap(a, torch.tensor([[5.0, 1, 4, 2, 3]]), 2)) == 0.5
