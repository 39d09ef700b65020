"""A bundle's trust record: fitted once on validation logits, applied to every prediction.

The probabilities' temperature is fitted on the whole validation split (kept at 1 when the split holds
no error to fit it on). The prediction sets need a calibration share their scores were not fitted on:
the split is cut in two by a seeded shuffle, the first share fits the sets' own temperature (kept at 1
when it worsens the second share's NLL), the second share gives the conformal scores, so the coverage
guarantee holds. The unfamiliar-input threshold keeps 95% of all validation inputs. The record is JSON
(``BundleMeta.trust``): the temperatures, the calibration share's sorted conformal scores (any coverage
can be asked later), the threshold, and ECE / NLL before and after on the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from plugins.registry import registry
from robustness.uncertainty.calibration import calibrate, fit_temperature
from robustness.uncertainty.conformal import (
    draws,
    label_scores,
    prediction_sets,
    quantile,
    smallest_calibration,
)
from robustness.uncertainty.metrics import ece, nll
from robustness.uncertainty.unfamiliar import KEPT, energy, threshold

COVERAGE = 0.9  # the coverage a bundle's sets give unless asked otherwise
SCORE = "aps"


@dataclass(frozen=True)
class TrustConfig:
    """How the record is fitted."""

    coverage: float = COVERAGE
    score: str = SCORE
    calibration_share: float = 0.5  # of the validation split, for the conformal scores
    kept: float = KEPT
    seed: int = 0


def fit_trust(logits: Tensor, labels: Tensor, cfg: TrustConfig | None = None) -> dict[str, Any]:
    """The trust record of a model from its validation logits and labels. Shape: (N, K), (N,)."""
    cfg = cfg or TrustConfig()
    logits, labels = logits.double().cpu(), labels.cpu()
    n = len(labels)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    n_cal = int(round(n * cfg.calibration_share))
    fit, cal = order[: n - n_cal], order[n - n_cal :]
    errors = bool((logits.argmax(1) != labels).any())
    t = fit_temperature(logits, labels) if errors else 1.0  # no error: nothing says how sure to be
    t_sets = fit_temperature(logits[fit], labels[fit]) if len(fit) else 1.0
    if len(cal) and nll(logits[cal] / t_sets, labels[cal]) > nll(logits[cal], labels[cal]):
        t_sets = 1.0  # it does not hold on held-out examples (a share without errors drives it to T_MIN)
    score = registry.get("conformal-score", cfg.score)()
    u = draws(len(cal), cfg.seed)
    after = calibrate(logits[cal], t_sets).double()
    scores = label_scores(score, after, labels[cal], u) if len(cal) else torch.zeros(0)
    raw = torch.softmax(logits, 1)
    return {
        "calibration": {"method": "temperature", "temperature": round(t, 6), "fitted_on": n,
                        **({} if errors else {"note": "the validation split holds no error to fit a "
                                                      "temperature on: kept 1"}),
                        "ece_before": ece(raw, labels),
                        "ece_after": ece(calibrate(logits, t).double(), labels),
                        "nll_before": nll(logits, labels), "nll_after": nll(logits / t, labels)},
        "conformal": {"score": cfg.score, "coverage": cfg.coverage, "seed": cfg.seed,
                      "temperature": round(t_sets, 6), "fitted_on": len(fit),
                      "scores": [round(float(s), 6) for s in torch.sort(scores).values]},
        "unfamiliar": {"score": "energy", "kept": cfg.kept,
                       "threshold": round(threshold(energy(logits), cfg.kept), 6)},
    }


@dataclass(frozen=True)
class Trusted:
    """Per input: calibrated probabilities, the prediction set (None: the calibration share is too small
    for the coverage), the unfamiliar-input score and flag. Shape: probs (N, K), sets (N, K) bool, (N,)."""

    probs: Tensor
    sets: Tensor | None
    score: Tensor
    unfamiliar: Tensor
    coverage: float


def apply_trust(logits: Tensor, record: dict[str, Any], coverage: float | None = None,
                seed: int = 0) -> Trusted:
    """What a trust record says of new logits (``coverage``: default the record's). Shape: (N, K)."""
    logits = logits.double().cpu()
    probs = calibrate(logits, record["calibration"]["temperature"]).double()
    conformal = record["conformal"]
    coverage = conformal["coverage"] if coverage is None else coverage
    scores = torch.tensor(conformal["scores"], dtype=torch.float64)
    sets = None
    if len(scores) >= smallest_calibration(coverage):
        score = registry.get("conformal-score", conformal["score"])()
        scored = calibrate(logits, conformal.get("temperature", record["calibration"]["temperature"]))
        sets = prediction_sets(score, scored.double(), quantile(scores, coverage), draws(len(logits), seed))
    unfamiliar = record["unfamiliar"]
    s = energy(logits)
    return Trusted(probs.float(), sets, s, s > unfamiliar["threshold"], coverage)


def evaluate_trust(logits: Tensor, labels: Tensor, record: dict[str, Any], classes: list[str],
                   coverage: float | None = None) -> dict[str, Any]:
    """How the record holds on labeled data: ECE and NLL raw and calibrated (with the reliability
    curve), the sets' empirical coverage and mean size (overall and per class), the share flagged
    unfamiliar. Shape: (N, K), (N,)."""
    from robustness.uncertainty.conformal import evaluate_sets
    from robustness.uncertainty.metrics import reliability

    logits, labels = logits.double().cpu(), labels.cpu()
    got = apply_trust(logits, record, coverage)
    raw = torch.softmax(logits, 1)
    t = record["calibration"]["temperature"]
    out: dict[str, Any] = {
        "calibration": {"temperature": t, "ece_raw": ece(raw, labels), "ece": ece(got.probs.double(), labels),
                        "nll_raw": nll(logits, labels), "nll": nll(logits / t, labels),
                        "reliability_raw": _curve(reliability(raw, labels)),
                        "reliability": _curve(reliability(got.probs.double(), labels))},
        "unfamiliar": {"score": "energy", "threshold": record["unfamiliar"]["threshold"],
                       "flagged": float(got.unfamiliar.double().mean())},
    }
    if got.sets is not None:
        sets = evaluate_sets(got.sets, labels)
        out["conformal"] = {"coverage_target": got.coverage, "coverage": sets.coverage,
                            "mean_size": sets.mean_size, "score": record["conformal"]["score"],
                            "per_class": {classes[k]: v for k, v in sets.per_class.items()}}
    return out


def _curve(r: Any) -> dict[str, list[Any]]:
    return {"confidence": r.confidence, "accuracy": r.accuracy, "count": r.count}


def separation(familiar: Tensor, unfamiliar: Tensor, record: dict[str, Any] | None) -> dict[str, Any]:
    """How well the energy score tells another source's inputs from familiar ones: AUROC, the familiar
    share flagged when 95% of the other source is, and (with a record) the other source's share over the
    bundle's threshold. Shape: logits (N, K), (M, K)."""
    from robustness.uncertainty.metrics import auroc, fpr_at_tpr

    f, u = energy(familiar.cpu()), energy(unfamiliar.cpu())
    out: dict[str, Any] = {"n": len(u), "auroc": auroc(f, u), "fpr_at_95_tpr": fpr_at_tpr(f, u)}
    if record is not None:
        out["flagged_there"] = float((u > record["unfamiliar"]["threshold"]).double().mean())
    return out
