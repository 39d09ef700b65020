"""Clean versus adversarial explanations: do the attack's changes also change what the model
looks at? Spearman rank correlation of the two maps and overlap of their top-k features."""

from __future__ import annotations

import torch
from torch import Tensor


def _ranks(v: Tensor) -> Tensor:
    """Ranks along the last dimension (ties broken by position). Shape: (N, D) -> (N, D)."""
    ranks = torch.empty_like(v)
    ranks.scatter_(1, v.argsort(dim=1), torch.arange(v.shape[1], dtype=v.dtype).expand_as(v).contiguous())
    return ranks


def rank_correlation(a: Tensor, b: Tensor) -> Tensor:
    """Spearman correlation per example of two attribution maps. Shape: (N, ...) -> (N,)."""
    ra, rb = _ranks(a.flatten(1).float()), _ranks(b.flatten(1).float())
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp_min(1e-12)


def top_k_overlap(a: Tensor, b: Tensor, k: int) -> Tensor:
    """Share of the ``k`` largest features of ``a`` that are also among those of ``b``.

    Shape: (N, ...) -> (N,).
    """
    k = max(1, min(k, a[0].numel()))
    ta = a.flatten(1).topk(k, dim=1).indices
    tb = b.flatten(1).topk(k, dim=1).indices
    hits = (ta.unsqueeze(2) == tb.unsqueeze(1)).any(2)
    return hits.float().mean(1)


def pixel_maps(attributions: Tensor) -> Tensor:
    """Channels summed: the per-pixel map compared above. Shape: (N, C, H, W) -> (N, H, W)."""
    return attributions.sum(1)
