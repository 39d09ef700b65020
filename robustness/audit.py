"""The audit: clean and robust accuracy per attack per epsilon, worst case per sample, flags."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from plugins.errors import InvalidInput, Unsupported, opt
from plugins.events import Events, Reporter, reporter
from plugins.modes import device_of
from plugins.records import plain
from plugins.registry import registry
from robustness.attacks.base import AttackConfig, attack_mode, perturbation_norm
from robustness.config import AuditConfig
from robustness.defaults import default_attacks
from robustness.flags import ball_flags, curve_flags, has_input_gradients, model_flags
from robustness.report import build_report, eps_key


@dataclass
class AuditResult:
    """JSON-ready report plus the worst-case adversarial examples at the largest epsilon."""

    report: dict[str, Any]
    examples: dict[str, Tensor] = field(default_factory=dict)
    texts: list[dict[str, Any]] = field(default_factory=list)  # text audits: adversarial texts


@torch.no_grad()
def _predict(model: nn.Module, x: Tensor, size: int) -> Tensor:
    """Predicted classes, batch by batch on the model's device. Shape: (N, C, H, W) -> (N,) on x's device."""
    if len(x) == 0:  # every sample settled earlier
        return torch.zeros(0, dtype=torch.long, device=x.device)
    on = device_of(model)
    return torch.cat([model(x[i : i + size].to(on)).argmax(1).to(x.device) for i in range(0, len(x), size)])


def _attack_batches(attack: Any, model: nn.Module, x: Tensor, y: Tensor, done: Tensor | None, size: int,
                    starts: Iterable[int]) -> tuple[Tensor, int]:
    """The attack's examples, batch by batch on the model's device, within its budget; and how many of
    its own results broke its contract before the budget was enforced (the ``outside_ball`` flag: a bug
    in the attack). One seeded random stream runs over all batches: on the CPU the examples are the same
    whatever the batch size.

    Shape: x (N, C, H, W), y (N,), done (N,) bool -> (N, C, H, W) on x's device, count.
    """
    out, broke = [], 0
    on = device_of(model)
    with attack_mode(model, attack.cfg.seed):
        for i in starts:
            xb, yb = x[i : i + size].to(on), y[i : i + size].to(on)
            raw = attack.raw(model, xb, yb, None if done is None else done[i : i + size].to(on), seeded=False)
            broke += int(attack.violations(raw, xb).sum())
            out.append(attack.enforce(raw, xb).to(x.device))
    return torch.cat(out), broke


def validate(cfg: AuditConfig, modality: str = "image") -> None:
    """Unknown attack names, attacks for the other modality, and budgets outside (0, 1] raise."""
    for name in cfg.attacks:
        registry.entry("attack", name)
        kind = getattr(registry.get("attack", name), "modality", "image")
        if kind != modality:
            article = "an" if modality == "image" else "a"
            raise Unsupported(f"attack {name!r} works on {kind} models but this is {article} {modality} "
                              f"model; use {opt('attacks')} {','.join(default_attacks(modality))}")
    for eps in cfg.eps:
        AttackConfig(eps=eps)


def _check(model: nn.Module, x: Tensor, cfg: AuditConfig) -> None:
    validate(cfg)
    needing = [a for a in cfg.attacks if registry.get("attack", a).needs_gradients]
    if needing and not has_input_gradients(model, x[:1].to(device_of(model))):
        raise InvalidInput(f"attack(s) {', '.join(needing)} need gradients but the model's output has "
                           f"none with respect to its input; use a black-box attack: {opt('attacks')} "
                           "square")


def run_audit(model: nn.Module, x: Tensor, y: Tensor, classes: list[str], cfg: AuditConfig,
              events: Events | Reporter | None = None) -> AuditResult:
    """Attack ``model`` on pixels ``x`` in [0, 1] with labels ``y``. Shape: (N, C, H, W), (N,).

    Progress goes to ``events`` per attack and batch; cancellation is checked between batches.
    """
    report_to = reporter(events)
    _check(model, x, cfg)
    model.eval()
    start_all = time.perf_counter()
    pred_clean = _predict(model, x, cfg.batch_size)
    clean = pred_clean == y
    attacks_out: dict[str, dict[str, Any]] = {}
    robust: dict[str, dict[float, float]] = {}
    violations: dict[str, int] = {}
    correct_by: dict[float, dict[str, Tensor]] = {}
    advs: list[Tensor] = []
    carried: dict[str, Tensor] = {}  # per attack: the adversarial examples of the previous budget
    fooled: dict[str, Tensor] = {name: ~clean for name in cfg.attacks}  # settled: nothing to attack
    for eps in sorted(cfg.eps):
        advs, correct_by[eps] = [], {}
        for name in cfg.attacks:
            attack_cls = registry.get("attack", name)
            budget = AttackConfig(eps=eps, steps=cfg.steps, n_queries=cfg.n_queries, seed=cfg.seed,
                                  early_stop=not cfg.independent)
            attack = attack_cls(budget, cfg.options.get(name))
            done = None if cfg.independent else fooled[name]
            t0 = time.perf_counter()
            starts = range(0, len(x), cfg.batch_size)
            batches = report_to.track(starts, f"{name} eps={eps:.4g}", len(starts))
            adv, broke = _attack_batches(attack, model, x, y, done, cfg.batch_size, batches)
            if done is not None and name in carried:  # a smaller budget's example lies inside this ball
                adv = torch.where(done.view(-1, *([1] * (x.dim() - 1))), carried[name], adv)
            seconds = time.perf_counter() - t0
            if done is None:
                correct = (_predict(model, adv, cfg.batch_size) == y) & clean
            else:  # settled samples stay fooled: only the attacked ones need a prediction
                correct = torch.zeros_like(clean)
                correct[~done] = _predict(model, adv[~done], cfg.batch_size) == y[~done]
            carried[name], fooled[name] = adv, ~correct
            delta = adv - x
            violations[name] = violations.get(name, 0) + broke
            stats = {"robust_accuracy": float(correct.float().mean()),
                     "mean_linf": float(perturbation_norm(delta, "Linf").mean()),
                     "mean_l2": float(perturbation_norm(delta, "L2").mean()),
                     "seconds": round(seconds, 3), "norm": attack.norm,
                     "attacked": len(x) - (0 if done is None else int(done.sum())),
                     ("gradient_steps" if attack.needs_gradients else "queries"): attack.spent}
            attacks_out.setdefault(name, {})[eps_key(eps)] = stats
            report_to.metric("attack", attack=name, eps=eps, robust_accuracy=stats["robust_accuracy"])
            robust.setdefault(name, {})[eps] = stats["robust_accuracy"]
            advs.append(adv)
            correct_by[eps][name] = correct
    largest = max(cfg.eps)  # the worst-case examples: per sample, the first attack that fooled it
    adv_worst = x.clone()
    for name, adv in zip(reversed(cfg.attacks), reversed(advs), strict=True):
        pick = ~correct_by[largest][name]
        adv_worst[pick] = adv[pick]
    examples = {"x": x, "x_adv": adv_worst, "labels": y, "pred_clean": pred_clean,
                "pred_adv": _predict(model, adv_worst, cfg.batch_size), "eps": torch.tensor([largest])}
    white = {a for a in cfg.attacks if registry.get("attack", a).needs_gradients}
    on = device_of(model)
    flags = model_flags(model, x[: cfg.batch_size].to(on), y[: cfg.batch_size].to(on))
    flags += curve_flags(robust, white, len(x)) + ball_flags(violations)
    config = {"attacks": list(cfg.attacks), "steps": cfg.steps, "n_queries": cfg.n_queries, "seed": cfg.seed,
              "options": plain(cfg.options), "mode": "independent" if cfg.independent else "cascade"}
    report = build_report("image", clean, attacks_out, correct_by, y, classes, flags, config,
                          time.perf_counter() - start_all)
    return AuditResult(report, examples)
