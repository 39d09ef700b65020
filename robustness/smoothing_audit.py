"""Certified robustness in an audit: Cohen's CERTIFY on every audited input (in chunks, each chunk's
results kept in a partial file so a stopped audit continues where it stopped), the certified accuracy per
L2 radius, per class, with abstentions, beside the empirical robust accuracy of PGD-L2 against the same
smoothed classifier on the same inputs (the band in which the true robust accuracy lies)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from plugins import jsonio
from plugins.atomic import atomic_write_text
from plugins.events import Reporter
from robustness.certify import ABSTAIN, CHUNK, Certified, certified_accuracy, certify, max_radius, radius_grid
from robustness.config import SmoothingConfig
from robustness.smooth_attack import smoothed_pgd_l2, smoothed_votes

Model = Callable[[Tensor], Tensor]
CERTIFY_CHUNK = 20  # inputs certified between two saves of the partial file
ATTACK_STEPS, ATTACK_SAMPLES = 10, 8  # PGD-L2 on the smoothed classifier
TOLERANCE = 0.02  # certified above empirical by more than this (and 2 inputs) raises the flag


def _key(cfg: SmoothingConfig, n: int) -> dict[str, Any]:
    return {"sigma": cfg.sigma, "n0": cfg.n0, "n": cfg.n, "alpha": cfg.alpha, "seed": cfg.seed, "inputs": n}


Groups = Callable[[int, int], list[tuple[Model, Tensor, int]]]  # (start, count) -> [(model, inputs, start)]


def image_groups(model: Model, x: Tensor) -> Groups:
    """Images share one model: inputs ``at`` to ``at + count`` as one group. Shape: x (N, C, H, W)."""
    return lambda at, count: [(model, x[at:at + count], at)]


def text_groups(model: Any, embeds: list[Tensor]) -> Groups:
    """Texts: each its own group, the model reading its embeddings with its own length (no padding).
    Shape: embeds[i] (L_i, D)."""
    def reader(length: int) -> Model:
        return lambda z: model.forward_embeddings(z, torch.ones(len(z), length, dtype=torch.long,
                                                               device=z.device))
    return lambda at, count: [(reader(len(embeds[i])), embeds[i][None], i)
                              for i in range(at, min(at + count, len(embeds)))]


def certify_all(groups: Groups, total: int, num_classes: int, cfg: SmoothingConfig, events: Reporter,
                partial: Path | None = None) -> Certified:
    """CERTIFY on every input, ``CERTIFY_CHUNK`` at a time; with ``partial``, finished chunks are saved
    there and a rerun with the same settings starts after them. Certified over the ``total`` inputs."""
    done: dict[str, list[float]] = {"predictions": [], "radii": [], "p_lower": []}
    if partial is not None and partial.is_file():
        saved = jsonio.loads(partial.read_text(), str(partial), "delete it to certify from the start")
        if saved.get("key") == _key(cfg, total):
            done = saved["done"]
            events.log(f"certification: continuing after the {len(done['radii'])} inputs certified earlier")
    start = len(done["radii"])
    for at in range(start, total, CERTIFY_CHUNK):
        events.progress("certifying (randomized smoothing)", at, total)
        for model, x, first in groups(at, CERTIFY_CHUNK):
            part = certify(model, x, num_classes, cfg, start=first, events=events)
            done["predictions"] += part.predictions.tolist()
            done["radii"] += part.radii.tolist()
            done["p_lower"] += part.p_lower.tolist()
        if partial is not None:
            atomic_write_text(partial, jsonio.dumps({"key": _key(cfg, total), "done": done}))
    events.progress("certifying (randomized smoothing)", total, total)
    return Certified(torch.tensor(done["predictions"], dtype=torch.long), torch.tensor(done["radii"]),
                     torch.tensor(done["p_lower"]))


def empirical(groups: Groups, total: int, y: Tensor, num_classes: int, cfg: SmoothingConfig,
              radii: list[float], batch: int, events: Reporter, pixels: bool = True) -> list[float]:
    """Accuracy of the smoothed classifier (a majority of n0 noisy copies) on PGD-L2 inputs against it,
    per radius (0: the clean inputs); ``pixels``: kept in [0, 1]."""
    out = []
    for k, r in enumerate(radii):
        events.progress("PGD-L2 against the smoothed classifier", k, len(radii))
        right = 0
        for at in range(0, total, batch):
            for model, xb, first in groups(at, batch):
                events.check()
                yb = y[first:first + len(xb)]
                adv = smoothed_pgd_l2(model, xb, yb, r, cfg.sigma, ATTACK_STEPS, ATTACK_SAMPLES,
                                      cfg.seed + first, clamp=pixels)
                votes = smoothed_votes(model, adv, num_classes, cfg.sigma, cfg.n0, cfg.seed,
                                       cfg.batch_size or CHUNK, first)
                right += int((votes == yb.cpu()).sum())
        out.append(right / total)
    events.progress("PGD-L2 against the smoothed classifier", len(radii), len(radii))
    return out


def certified_report(groups: Groups, total: int, y: Tensor, classes: list[str], cfg: SmoothingConfig,
                     events: Reporter, batch: int = 32, partial: Path | None = None,
                     values: int | None = None) -> dict[str, Any]:
    """``audit.json``'s ``certified`` part: the settings, radii, certified and empirical accuracy, the
    implied L-inf radii (``values``: the values of one input; texts: none), abstentions, per-class
    certified accuracy, and each input's label, smoothed class and radius. ``batch``: inputs per gradient
    pass of the attack, each with ``ATTACK_SAMPLES`` noisy copies. Shape: y (N,)."""
    began = time.perf_counter()
    cert = certify_all(groups, total, len(classes), cfg, events, partial)
    certified_at = time.perf_counter()
    radii = radius_grid(cfg)
    labels = y.cpu()
    certified = certified_accuracy(cert, labels, radii)
    upper = empirical(groups, total, y, len(classes), cfg, radii, max(1, batch // ATTACK_SAMPLES), events,
                      pixels=values is not None)
    per_class = {name: certified_accuracy(Certified(cert.predictions[labels == c], cert.radii[labels == c],
                                                    cert.p_lower[labels == c]), labels[labels == c], radii)
                 for c, name in enumerate(classes) if bool((labels == c).any())}
    gap = max(c - e for c, e in zip(certified, upper, strict=True))
    flags = []
    if gap > max(TOLERANCE, 2 / total):
        at = radii[max(range(len(radii)), key=lambda i: certified[i] - upper[i])]
        flags.append({"code": "certified_above_empirical",
                      "message": f"the certified accuracy is above the empirical robust accuracy at radius "
                                 f"{at:g} ({gap:.1%} more): one of them is wrong (a bug, or too few noise "
                                 "samples in the attack); trust neither until it is explained"})
    return {
        "sigma": cfg.sigma, "n0": cfg.n0, "n": cfg.n, "alpha": cfg.alpha, "inputs": total,
        "radii": radii, "certified_accuracy": certified, "empirical_accuracy": upper,
        "max_radius": max_radius(cfg),
        "linf_radii": [r / math.sqrt(values) for r in radii] if values else None,
        "space": "pixels" if values else "token embeddings (L2 over every token's embedding of the text)",
        "abstained": int((cert.predictions == ABSTAIN).sum()),
        "smoothed_accuracy": float((cert.predictions == labels).float().mean()),
        "mean_radius": float(cert.radii[cert.predictions == labels].sum() / total),
        "per_class": per_class, "flags": flags, "seconds": round(time.perf_counter() - began, 2),
        "certify_seconds": round(certified_at - began, 2),
        "per_input": {"labels": labels.tolist(), "predictions": cert.predictions.tolist(),
                      "radii": [round(r, 5) for r in cert.radii.tolist()]},
        "attack": {"name": "pgd-l2 on the smoothed classifier", "steps": ATTACK_STEPS,
                   "samples": ATTACK_SAMPLES, "votes": cfg.n0},
    }
