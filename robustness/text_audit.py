"""The audit of a text model: robust accuracy per text attack per budget, success rate, words
changed, queries, worst case per sample and sanity flags. Same report layout as image audits."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from plugins.classifier import TextClassifier
from plugins.events import Events, Reporter, reporter
from plugins.records import plain
from plugins.registry import registry
from robustness.attacks.text_base import TextAttackConfig, TextOutcome, TextTarget
from robustness.audit import AuditResult, validate
from robustness.config import AuditConfig
from robustness.flags import ball_flags, curve_flags, model_flags
from robustness.report import build_report


class EmbeddingForward(nn.Module):
    """A text model as a function of its token embeddings, for the gradient flags.

    Shape: (N, L, D) -> (N, K) under a fixed (N, L) mask.
    """

    def __init__(self, model: TextClassifier, mask: Tensor) -> None:
        super().__init__()
        self.model, self.mask = model, mask

    def forward(self, embeds: Tensor) -> Tensor:
        return self.model.forward_embeddings(embeds, self.mask[: len(embeds)])


def _stats(outcome: TextOutcome, clean: Tensor, seconds: float, norm: str) -> dict[str, Any]:
    correct = outcome.correct & clean
    fooled = clean & ~outcome.correct
    n_ok = max(int(clean.sum()), 1)
    changed = outcome.words_changed[fooled].float()
    return {"robust_accuracy": float(correct.float().mean()),
            "success_rate": float(fooled.sum()) / n_ok,
            "mean_words_changed": float(changed.mean()) if len(changed) else 0.0,
            "mean_queries": float(outcome.queries[clean].float().mean()) if clean.any() else 0.0,
            "mean_relative_norm": float(outcome.relative_norm[clean].mean()) if clean.any() else 0.0,
            "seconds": round(seconds, 3), "norm": norm}


def run_text_audit(model: TextClassifier, tokenizer: Any, max_length: int, texts: list[str], y: Tensor,
                   classes: list[str], cfg: AuditConfig,
                   events: Events | Reporter | None = None) -> AuditResult:
    """Attack a text Classifier on ``texts`` with labels ``y``. Shape: ``y`` is (N,).

    Progress goes to ``events`` per attack; cancellation is checked between attacks.
    """
    report_to = reporter(events)
    validate(cfg, "text")
    start_all = time.perf_counter()
    target = TextTarget(model, tokenizer, max_length, cfg.batch_size)
    clean = target.probabilities(texts).argmax(1) == y
    eps = sorted(cfg.eps)
    attack_cfg = TextAttackConfig(steps=cfg.steps, batch_size=cfg.batch_size, seed=cfg.seed)
    outcomes: dict[str, dict[float, TextOutcome]] = {}
    attacks_out: dict[str, dict[str, Any]] = {}
    violations: dict[str, int] = {}
    for i, name in enumerate(cfg.attacks):
        report_to.check()
        report_to.progress("attacks", i, len(cfg.attacks), name)
        attack = registry.get("attack", name)(attack_cfg, cfg.options.get(name))
        t0 = time.perf_counter()
        outcomes[name] = attack.run(target, texts, y, eps)
        share = (time.perf_counter() - t0) / len(eps)
        attacks_out[name] = {f"{e:.6g}": _stats(o, clean, share, attack.norm)
                             for e, o in outcomes[name].items()}
        violations[name] = sum(o.violations for o in outcomes[name].values())
        for e in eps:
            report_to.metric("attack", attack=name, eps=e,
                             robust_accuracy=attacks_out[name][f"{e:.6g}"]["robust_accuracy"])
    report_to.progress("attacks", len(cfg.attacks), len(cfg.attacks))
    ids, mask = target.encode(texts[: cfg.batch_size])
    with torch.no_grad():
        embeds = model.get_input_embeddings()(ids)
    flags = model_flags(EmbeddingForward(model, mask), embeds, y[: len(ids)].to(ids.device))
    robust = {a: {e: attacks_out[a][f"{e:.6g}"]["robust_accuracy"] for e in eps} for a in cfg.attacks}
    flags += curve_flags(robust, set(cfg.attacks), len(texts)) + ball_flags(violations)
    correct_by = {e: {name: outcomes[name][e].correct for name in cfg.attacks} for e in eps}
    meaning = ("embedding attacks: per-token L2 budget relative to the token's embedding norm; "
               "word-level attacks: largest fraction of words changed (at least one)")
    report = build_report("text", clean, attacks_out, correct_by, y, classes, flags,
                          {"attacks": list(cfg.attacks), "steps": cfg.steps, "seed": cfg.seed,
                           "options": plain(cfg.options)},
                          time.perf_counter() - start_all, meaning)
    return AuditResult(report, texts=_examples(texts, y, classes, outcomes, max(eps), target))


def _examples(texts: list[str], y: Tensor, classes: list[str], outcomes: dict[str, dict[float, TextOutcome]],
              eps: float, target: TextTarget) -> list[dict[str, Any]]:
    """Adversarial texts at the largest budget, with the model's prediction on each."""
    rows = []
    for name, by_eps in outcomes.items():
        outcome = by_eps[eps]
        if outcome.texts is None:
            continue
        preds = target.probabilities(outcome.texts).argmax(1).tolist()
        for i, (text, adv) in enumerate(zip(texts, outcome.texts, strict=True)):
            rows.append({"attack": name, "eps": eps, "index": i, "label": classes[int(y[i])], "text": text,
                         "adversarial": adv, "prediction": classes[preds[i]],
                         "words_changed": int(outcome.words_changed[i]), "queries": int(outcome.queries[i])})
    return rows
