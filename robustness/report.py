"""The audit report, one type for image and text audits: built in one place, checked when read.

``worst_case`` turns each attack's per-example correctness into the worst case per budget (an
example counts as lost if any attack fooled it), per-class robust accuracy and which attack
fooled it first. ``AuditReport`` is the schema of ``audit.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from plugins.jsonio import read_json
from plugins.records import Spec
from plugins.schema import from_dict

AUDIT_FORMAT = 1


@dataclass(frozen=True)
class AttackStats:
    """One attack at one budget (image audits fill the norms, text audits the word counts)."""

    robust_accuracy: float
    seconds: float
    norm: str
    mean_linf: float | None = None
    mean_l2: float | None = None
    success_rate: float | None = None
    mean_words_changed: float | None = None
    mean_queries: float | None = None
    mean_relative_norm: float | None = None
    attacked: int | None = None  # samples attacked at this budget (the rest were settled earlier)
    gradient_steps: int | None = None  # per-sample gradient evaluations spent (white-box attacks)
    queries: int | None = None  # per-sample model queries spent (black-box attacks)


@dataclass(frozen=True)
class WorstCase:
    """Every attack together at one budget."""

    robust_accuracy: float
    per_class: dict[str, float | None]
    first_fooled_by: dict[str, int]


@dataclass(frozen=True)
class Flag:
    """A sanity flag: why a robustness number may be too optimistic."""

    code: str
    message: str


@dataclass(frozen=True)
class AuditReport(Spec):
    """``audit.json``: clean and robust accuracy per attack and budget, worst case, flags."""

    modality: Literal["image", "text"]
    n: int
    clean_accuracy: float
    eps: list[float]
    attacks: dict[str, dict[str, AttackStats]]
    worst_case: dict[str, WorstCase]
    flags: list[Flag]
    config: dict[str, Any]
    seconds: float
    format_version: int = AUDIT_FORMAT
    eps_meaning: str | None = None
    numerics: dict[str, Any] | None = None  # what the model computed in (plugins/numerics.py)
    batch: dict[str, Any] | None = None  # the attack batch: size, why, device (finetune/numerics/batch.py)
    certified: dict[str, Any] | None = None  # --certify: randomized smoothing (robustness/smoothing_audit.py)


def eps_key(eps: float) -> str:
    """The key of a budget in a report (``0.00392157`` for 1/255)."""
    return f"{eps:.6g}"


def worst_case(clean: Tensor, correct: dict[str, Tensor], y: Tensor, classes: list[str]) -> dict[str, Any]:
    """Worst case over attacks at one budget, from each attack's per-example correctness.

    Shape: ``clean`` (N,) bool, ``correct[attack]`` (N,) bool, ``y`` (N,). An example clean-correct
    and fooled by an attack is credited to the first attack (in ``correct``'s order) that fooled it.
    """
    still = clean.clone()
    first = torch.full((len(y),), -1)
    for i, name in enumerate(correct):
        fooled = still & ~correct[name]
        first[fooled], still = i, still & ~fooled
    per_class = {c: float(still[y == k].float().mean()) if bool((y == k).any()) else None
                 for k, c in enumerate(classes)}
    return {"robust_accuracy": float(still.float().mean()), "per_class": per_class,
            "first_fooled_by": {name: int((first == i).sum()) for i, name in enumerate(correct)}}


def build_report(modality: str, clean: Tensor, attacks: dict[str, dict[str, Any]],
                 correct: dict[float, dict[str, Tensor]], y: Tensor, classes: list[str],
                 flags: list[dict[str, str]], config: dict[str, Any], seconds: float,
                 eps_meaning: str | None = None) -> dict[str, Any]:
    """The report as JSON data, checked against ``AuditReport`` (``correct[eps][attack]`` is (N,))."""
    eps = sorted(correct)
    report: dict[str, Any] = {
        "format_version": AUDIT_FORMAT, "modality": modality, "n": int(len(y)),
        "clean_accuracy": float(clean.float().mean()), "eps": eps, "attacks": attacks,
        "worst_case": {eps_key(e): worst_case(clean, correct[e], y, classes) for e in eps},
        "flags": flags, "config": config, "seconds": round(seconds, 3)}
    if eps_meaning is not None:
        report["eps_meaning"] = eps_meaning
    from_dict(AuditReport, report, "audit report", "report this")
    return report


def read_audit_report(path: Path, fix: str = "rerun robustune audit to rewrite it") -> dict[str, Any]:
    """``audit.json`` read and checked field by field (an older audit without a format version loads)."""
    data = read_json(path, fix)
    from_dict(AuditReport, data, str(path), fix)
    return data  # type: ignore[no-any-return]

