"""Can this explanation be trusted? Deletion and insertion curves against a random order
(Petsiuk et al. 2018), Captum's infidelity (Yeh et al. 2019) and max-sensitivity.

Deletion: pixels are turned black (tokens replaced by padding) in order of attribution, most
important first; a faithful map
makes the target probability fall fast (low AUC). Insertion: pixels are revealed on a black
image in the same order; the probability should rise fast (high AUC). Both are compared with
the same curves for a random order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor, nn

from explain.base import explain_mode


@dataclass(frozen=True)
class QualityConfig:
    """Resolution of the curves and effort of the perturbation metrics."""

    steps: int = 20
    noise: float = 0.03  # infidelity: std of the Gaussian perturbations, pixel units
    radius: float = 0.02  # max-sensitivity: perturbation radius
    n_perturb: int = 8
    seed: int = 0


def pixel_order(attributions: Tensor) -> Tensor:
    """Pixels by attribution (channels summed), most important first. Shape: (N, C, H, W) -> (N, H*W)."""
    return attributions.sum(1).flatten(1).argsort(dim=1, descending=True)


@torch.no_grad()
def probability_curve(model: nn.Module, x: Tensor, target: Tensor, order: Tensor, steps: int,
                      insertion: bool) -> Tensor:
    """Target probability as pixels are removed (or inserted) in ``order``.

    Shape: (N, C, H, W), (N,), (N, H*W) -> (N, steps + 1), fraction 0, 1/steps, ..., 1.
    """
    n, c, h, w = x.shape
    out = []
    for k in range(steps + 1):
        count = round(k * h * w / steps)
        mask = torch.zeros(n, h * w, dtype=x.dtype)
        mask.scatter_(1, order[:, :count], 1.0)
        keep = mask.view(n, 1, h, w) if insertion else 1 - mask.view(n, 1, h, w)
        probs = torch.softmax(model(x * keep), dim=1)
        out.append(probs.gather(1, target.view(-1, 1)).squeeze(1))
    return torch.stack(out, dim=1)


def auc(curve: Tensor) -> Tensor:
    """Area under curves sampled evenly on [0, 1] (trapezoid). Shape: (N, S) -> (N,)."""
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[1] - 1), dim=1)


def deletion_insertion(model: nn.Module, x: Tensor, target: Tensor, attributions: Tensor,
                       cfg: QualityConfig) -> dict[str, float]:
    """Mean deletion and insertion AUC for the attribution order and for a random order."""
    g = torch.Generator().manual_seed(cfg.seed)
    pixels = x.shape[-1] * x.shape[-2]
    random_order = torch.stack([torch.randperm(pixels, generator=g) for _ in range(len(x))])
    orders = (("", pixel_order(attributions)), ("_random", random_order))
    model.eval()
    out = {}
    for name in ("deletion", "insertion"):
        for suffix, order in orders:
            curve = probability_curve(model, x, target, order, cfg.steps, insertion=name == "insertion")
            out[f"{name}_auc{suffix}"] = float(auc(curve).mean())
    return out


def perturbation_metrics(model: nn.Module, x: Tensor, target: Tensor, attributions: Tensor,
                         explain: Callable[[Tensor, Tensor], Tensor], cfg: QualityConfig) -> dict[str, float]:
    """Mean infidelity (lower is better) and max-sensitivity (lower is better)."""
    def perturb(inputs: Tensor) -> tuple[Tensor, Tensor]:
        noise = cfg.noise * torch.randn_like(inputs)
        return noise, inputs - noise

    def explanation(inputs: Tensor | tuple[Tensor, ...], target: Any = None) -> tuple[Tensor]:
        return (explain(inputs[0] if isinstance(inputs, tuple) else inputs, target),)  # Captum wants tuples

    with explain_mode(model, cfg.seed):
        infid = infidelity(model, perturb, x, attributions, target=target, n_perturb_samples=cfg.n_perturb)
        sens = sensitivity_max(explanation, x, perturb_radius=cfg.radius, n_perturb_samples=cfg.n_perturb,
                               target=target)
    return {"infidelity": float(infid.mean()), "max_sensitivity": float(sens.mean())}


@torch.no_grad()
def token_curves(model: nn.Module, ids: Tensor, mask: Tensor, target: Tensor, scores: Tensor,
                 editable: Tensor, pad_id: int, cfg: QualityConfig) -> dict[str, float]:
    """Deletion and insertion AUC over tokens (replaced by padding in score order) and for a random
    order. Special tokens are never touched. Shape: (N, L) ids, mask, scores, editable; (N,) target."""
    g = torch.Generator().manual_seed(cfg.seed)
    ranked = scores.masked_fill(~editable, float("-inf")).argsort(dim=1, descending=True)
    noise = torch.rand(scores.shape, generator=g).masked_fill(~editable, float("-inf"))
    orders = (("", ranked), ("_random", noise.argsort(dim=1, descending=True)))
    counts = editable.sum(1)
    out = {}
    for name in ("deletion", "insertion"):
        for suffix, order in orders:
            points = []
            for k in range(cfg.steps + 1):
                take = (counts.float() * k / cfg.steps).round().long()
                chosen = torch.zeros_like(editable)
                for i in range(len(ids)):
                    chosen[i, order[i, : int(take[i])]] = True
                hidden = chosen if name == "deletion" else editable & ~chosen
                probs = torch.softmax(model(ids.masked_fill(hidden, pad_id), mask), dim=1)
                points.append(probs.gather(1, target.view(-1, 1)).squeeze(1))
            out[f"{name}_auc{suffix}"] = float(auc(torch.stack(points, dim=1)).mean())
    return out
