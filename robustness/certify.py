"""Randomized smoothing (Cohen, Rosenfeld and Kolter 2019, "Certified Adversarial Robustness via
Randomized Smoothing"): the smoothed classifier g(x) = argmax_c P(f(x + N(0, sigma^2 I)) = c) of any
classifier f, and its CERTIFY procedure: ``n0`` noisy copies pick the class c, ``n`` more count how often
f answers c; the one-sided Clopper-Pearson lower bound pA of that probability (confidence 1 - alpha)
certifies c within the L2 radius sigma * Phi^-1(pA), or the input is abstained on when pA < 1/2.

Batched: the noisy copies of several inputs share each forward pass. Each input draws its noise from its
own generator (seeded by the seed and the input's position) in chunks of ``CHUNK`` copies, so the result
does not depend on the batch size, and a per-input loop drawing the same chunks gives equal counts. On
the CPU it first sets the C allocator to keep freed memory (``plugins.allocator``): most of the time was
page faults otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from plugins.allocator import keep_freed_memory
from plugins.events import Reporter
from robustness.config import SmoothingConfig

ABSTAIN = -1
CHUNK = 100  # noisy copies drawn at a time from an input's generator


def generators(count: int, seed: int, start: int = 0) -> list[torch.Generator]:
    """One generator per input: input i's noise comes from seed (seed, start + i) whatever the batching."""
    return [torch.Generator().manual_seed(seed * 1_000_003 + start + i) for i in range(count)]


def noise_chunk(x: Tensor, count: int, sigma: float, gen: torch.Generator) -> Tensor:
    """``count`` noisy copies of one input. Shape: (C, H, W) -> (count, C, H, W)."""
    noise = torch.randn((count, *x.shape), generator=gen, dtype=torch.float32)
    return x.unsqueeze(0) + sigma * noise.to(x.device, x.dtype)


def counts(model: Callable[[Tensor], Tensor], x: Tensor, num: int, sigma: float, gens: list[torch.Generator],
           num_classes: int, batch_size: int, check: Callable[[], None] = lambda: None) -> Tensor:
    """How often ``model`` answers each class on ``num`` noisy copies of each input; the copies stream
    through forward passes of exactly ``batch_size`` (the last one: what is left), whatever the chunks.

    Shape: x (B, ...) -> (B, K) int64.
    """
    out = torch.zeros(len(x), num_classes, dtype=torch.long)
    copies: list[Tensor] = []  # drawn, waiting for a forward pass
    owners: list[Tensor] = []  # the input of each waiting copy
    held = 0

    def run(size: int) -> None:
        nonlocal copies, owners, held
        check()
        waiting, whose = torch.cat(copies), torch.cat(owners)
        with torch.inference_mode():
            answers = model(waiting[:size]).argmax(1).cpu()
        out.index_put_((whose[:size], answers), torch.ones_like(answers), accumulate=True)
        copies, owners = ([waiting[size:].clone()], [whose[size:]]) if held > size else ([], [])
        held -= size

    for i in range(len(x)):
        left = num
        while left > 0:
            take = min(CHUNK, left)
            left -= take
            copies.append(noise_chunk(x[i], take, sigma, gens[i]))
            owners.append(torch.full((take,), i, dtype=torch.long))
            held += take
            while held >= batch_size:
                run(batch_size)
    if held:
        run(held)
    return out


def lower_bound(successes: Tensor, n: int, alpha: float) -> Tensor:
    """One-sided (1 - alpha) Clopper-Pearson lower bound of a binomial probability (0 with no success).

    Shape: (B,) counts -> (B,) float64.
    """
    from scipy.stats import beta

    k = successes.double().numpy()
    bound = beta.ppf(alpha, k, n - k + 1)
    zero = torch.tensor(0.0, dtype=torch.float64)
    return torch.from_numpy(bound).nan_to_num(0.0).where(successes > 0, zero)


@dataclass
class Certified:
    """Per input: the smoothed class (ABSTAIN: -1) and its certified L2 radius (0 when abstained), and
    the lower bound of its probability."""

    predictions: Tensor  # (B,) long
    radii: Tensor  # (B,) float
    p_lower: Tensor  # (B,) float


def certify(model: Callable[[Tensor], Tensor], x: Tensor, num_classes: int, cfg: SmoothingConfig,
            start: int = 0, events: Reporter | None = None) -> Certified:
    """Cohen's CERTIFY on every input of ``x`` (``start``: the inputs' position in the whole job, for
    their noise). Shape: (B, ...) -> Certified over B."""
    check = events.check if events is not None else (lambda: None)
    if isinstance(model, torch.nn.Module):
        model.eval()  # dropout or batch statistics would be a second, unaccounted noise
    if x.device.type == "cpu":
        keep_freed_memory()  # thousands of forward passes: no page faults at each (plugins/allocator.py)
    gens = generators(len(x), cfg.seed, start)
    batch = cfg.batch_size or CHUNK
    selection = counts(model, x, cfg.n0, cfg.sigma, gens, num_classes, batch, check)
    chosen = selection.argmax(1)
    estimation = counts(model, x, cfg.n, cfg.sigma, gens, num_classes, batch, check)
    p_lower = lower_bound(estimation.gather(1, chosen[:, None])[:, 0], cfg.n, cfg.alpha)
    sure = p_lower >= 0.5
    radii = (cfg.sigma * torch.special.ndtri(p_lower.clamp(0.5, 1 - 1e-12))).where(sure, torch.tensor(0.0,
                                                                                    dtype=torch.float64))
    return Certified(chosen.where(sure, torch.tensor(ABSTAIN)), radii.float(), p_lower.float())


def max_radius(cfg: SmoothingConfig) -> float:
    """The largest radius any input can be certified at with these settings (every copy right)."""
    return cfg.sigma * float(torch.special.ndtri(torch.tensor(cfg.alpha ** (1 / cfg.n), dtype=torch.float64)))


def radius_grid(cfg: SmoothingConfig) -> list[float]:
    """0, 0.25, 0.5, ... (steps of sigma / 2 below sigma 0.25) up to the first step above the largest
    certifiable radius (at least two steps)."""
    step = 0.25 if cfg.sigma >= 0.25 else round(cfg.sigma / 2, 6)
    top = max(2 * step, math.ceil(max_radius(cfg) / step) * step)
    return [round(i * step, 6) for i in range(int(round(top / step)) + 1)]


def certified_accuracy(cert: Certified, labels: Tensor, radii: list[float]) -> list[float]:
    """Per radius r: the share of inputs whose smoothed class is right and certified at r or more."""
    right = cert.predictions == labels
    return [float((right & (cert.radii >= r)).float().mean()) for r in radii]

