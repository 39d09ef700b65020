"""The empirical side of randomized smoothing: PGD in L2 against the smoothed classifier itself (SmoothAdv,
Salman et al. 2019, "Provably Robust Deep Learning via Adversarially Trained Smoothed Classifiers"): each
step ascends the loss of the smoothed soft classifier, -log of the mean softmax over ``samples`` noisy
copies, within the L2 ball; the smoothed class of the result is then the majority of ``votes`` noisy
copies. Its accuracy is an upper bound of the smoothed classifier's robust accuracy, as the certified
accuracy is a lower bound."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from robustness.certify import counts, generators

Model = Callable[[Tensor], Tensor]


def smoothed_pgd_l2(model: Model, x: Tensor, y: Tensor, radius: float, sigma: float, steps: int = 10,
                    samples: int = 8, seed: int = 0, clamp: bool = True) -> Tensor:
    """Adversarial inputs within ``radius`` (L2) of ``x`` against the smoothed classifier (``clamp``: pixels,
    kept in [0, 1]; embeddings are not).

    Shape: x (B, ...), y (B,) -> (B, ...).
    """
    if radius <= 0:
        return x
    gen = torch.Generator().manual_seed(seed)
    step = 2.5 * radius / steps
    delta = torch.zeros_like(x)
    view = (-1, *([1] * (x.dim() - 1)))
    for _ in range(steps):
        delta.requires_grad_(True)
        noise = sigma * torch.randn((len(x), samples, *x.shape[1:]), generator=gen).to(x.device, x.dtype)
        noisy = ((x + delta).unsqueeze(1) + noise).flatten(0, 1)
        with torch.enable_grad():
            probs = F.softmax(model(noisy).float(), 1).view(len(x), samples, -1).mean(1)
            loss = -torch.log(probs.gather(1, y[:, None]).clamp_min(1e-12)).sum()
            (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(view)
            delta = delta + step * grad / norm
            length = delta.flatten(1).norm(dim=1).view(view)
            delta = delta * (radius / length.clamp_min(radius))  # back onto the ball
            if clamp:
                delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def smoothed_votes(model: Model, x: Tensor, num_classes: int, sigma: float, votes: int, seed: int,
                   batch_size: int, start: int = 0) -> Tensor:
    """The smoothed classifier's class by a majority of ``votes`` noisy copies. Shape: (B, ...) -> (B,)."""
    gens = generators(len(x), seed + 1, start)  # other noise than the certification's
    return counts(model, x, votes, sigma, gens, num_classes, batch_size).argmax(1)
