"""The audit: clean and robust accuracy per attack per epsilon, worst case per sample, flags."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from plugins.errors import RobustuneError
from plugins.registry import registry
from robustness.attacks.base import AttackConfig, perturbation_norm
from robustness.attacks.worst_case import first_fooling
from robustness.flags import ball_flags, curve_flags, has_input_gradients, model_flags

DEFAULT_EPS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)


@dataclass(frozen=True)
class AuditConfig:
    """Which attacks at which budgets, and how hard."""

    attacks: tuple[str, ...] = ("fgsm", "pgd")
    eps: tuple[float, ...] = DEFAULT_EPS
    steps: int = 10
    n_queries: int = 1000
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [(len(self.attacks) > 0, "--attacks needs at least one attack"),
                  (len(self.eps) > 0, "--eps needs at least one budget"),
                  (self.steps >= 1, "--steps must be at least 1"),
                  (self.n_queries >= 1, "--n-queries must be at least 1"),
                  (self.batch_size >= 1, "--batch-size must be at least 1"),
                  (0 <= self.seed < 2**32, "--seed must be between 0 and 2**32 - 1")]
        for ok, message in checks:
            if not ok:
                raise RobustuneError(message)


@dataclass
class AuditResult:
    """JSON-ready report plus the worst-case adversarial examples at the largest epsilon."""

    report: dict[str, Any]
    examples: dict[str, Tensor] = field(default_factory=dict)
    texts: list[dict[str, Any]] = field(default_factory=list)  # text audits: adversarial texts


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor, size: int) -> Tensor:
    return torch.cat([model(x[i : i + size]).argmax(1) for i in range(0, len(x), size)])


DEFAULT_ATTACKS = {"image": "fgsm,pgd", "text": "embedding-pgd,word-level"}


def validate(cfg: AuditConfig, modality: str = "image") -> None:
    """Unknown attack names, attacks for the other modality, and budgets outside (0, 1] raise."""
    for name in cfg.attacks:
        registry.entry("attack", name)
        kind = getattr(registry.get("attack", name), "modality", "image")
        if kind != modality:
            article = "an" if modality == "image" else "a"
            raise RobustuneError(f"attack {name!r} works on {kind} models but this is {article} {modality} "
                                 f"model; use --attacks {DEFAULT_ATTACKS[modality]}")
    for eps in cfg.eps:
        AttackConfig(eps=eps)


def _check(model: nn.Module, x: Tensor, cfg: AuditConfig) -> None:
    validate(cfg)
    needing = [a for a in cfg.attacks if registry.get("attack", a).needs_gradients]
    if needing and not has_input_gradients(model, x):
        raise RobustuneError(f"attack(s) {', '.join(needing)} need gradients but the model's output has "
                             "none with respect to its input; use a black-box attack: --attacks square")


def run_audit(model: nn.Module, x: Tensor, y: Tensor, classes: list[str], cfg: AuditConfig,
              progress: Callable[[str], None] | None = None) -> AuditResult:
    """Attack ``model`` on pixels ``x`` in [0, 1] with labels ``y``. Shape: (N, C, H, W), (N,)."""
    _check(model, x, cfg)
    model.eval()
    start_all = time.perf_counter()
    clean = _predict(model, x, cfg.batch_size) == y
    attacks_out: dict[str, dict[str, Any]] = {}
    robust: dict[str, dict[float, float]] = {}
    violations: dict[str, int] = {}
    worst: dict[str, Any] = {}
    examples: dict[str, Tensor] = {}
    for eps in sorted(cfg.eps):
        advs, correct_all = [], clean.clone()
        for name in cfg.attacks:
            attack_cls = registry.get("attack", name)
            budget = AttackConfig(eps=eps, steps=cfg.steps, n_queries=cfg.n_queries, seed=cfg.seed)
            attack = attack_cls(budget)
            if progress:
                progress(f"{name} eps={eps:.4g}")
            t0 = time.perf_counter()
            adv = torch.cat([attack(model, x[i : i + cfg.batch_size], y[i : i + cfg.batch_size])
                             for i in range(0, len(x), cfg.batch_size)])
            seconds = time.perf_counter() - t0
            correct = (_predict(model, adv, cfg.batch_size) == y) & clean
            delta = adv - x
            over = perturbation_norm(delta, attack.norm) > eps + 1e-6
            outside = (adv < 0).flatten(1).any(1) | (adv > 1).flatten(1).any(1)
            violations[name] = violations.get(name, 0) + int((over | outside).sum())
            stats = {"robust_accuracy": float(correct.float().mean()),
                     "mean_linf": float(perturbation_norm(delta, "Linf").mean()),
                     "mean_l2": float(perturbation_norm(delta, "L2").mean()),
                     "seconds": round(seconds, 3), "norm": attack.norm}
            attacks_out.setdefault(name, {})[f"{eps:.6g}"] = stats
            robust.setdefault(name, {})[eps] = stats["robust_accuracy"]
            advs.append(adv)
            correct_all &= correct
        adv_worst, which = first_fooling(model, x, y, advs)
        per_class = {c: float(correct_all[y == k].float().mean()) if bool((y == k).any()) else None
                     for k, c in enumerate(classes)}
        worst[f"{eps:.6g}"] = {"robust_accuracy": float(correct_all.float().mean()),
                               "per_class": per_class,
                               "first_fooled_by": {name: int((which == i).sum())
                                                   for i, name in enumerate(cfg.attacks)}}
        examples = {"x": x, "x_adv": adv_worst, "labels": y,
                    "pred_clean": _predict(model, x, cfg.batch_size),
                    "pred_adv": _predict(model, adv_worst, cfg.batch_size),
                    "eps": torch.tensor([eps])}
    white = {a for a in cfg.attacks if registry.get("attack", a).needs_gradients}
    flags = model_flags(model, x[: cfg.batch_size], y[: cfg.batch_size])
    flags += curve_flags(robust, white, len(x)) + ball_flags(violations)
    report = {"modality": "image", "n": len(x), "clean_accuracy": float(clean.float().mean()),
              "eps": sorted(cfg.eps),
              "attacks": attacks_out, "worst_case": worst, "flags": flags,
              "config": {"attacks": list(cfg.attacks), "steps": cfg.steps, "n_queries": cfg.n_queries,
                         "seed": cfg.seed},
              "seconds": round(time.perf_counter() - start_all, 3)}
    return AuditResult(report, examples)
