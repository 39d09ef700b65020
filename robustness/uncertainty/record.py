"""A bundle's trust record: fitted once on validation logits, applied to every prediction.

The probabilities' temperature is fitted on the whole validation split, and kept at 1 when the split
holds no error to fit it on or when, fitted on either half, it does not lower the other half's NLL.
The prediction sets need a calibration share their scores were not fitted on:
the split is cut in two by a seeded shuffle, the first share fits the sets' own temperature (kept at 1
when it worsens the second share's NLL), the second share gives the conformal scores, so the coverage
guarantee holds. The unfamiliar-input threshold keeps 95% of validation inputs: of all of them for the
energy score (nothing fitted), of the second share for a score fitted on the first (Mahalanobis). The
record is JSON (``BundleMeta.trust``): the temperatures, the calibration share's sorted conformal scores
(any coverage can be asked later), the threshold, and ECE / NLL before and after on the validation
split; what a fitted unfamiliar score keeps (a whitening matrix and class means) is ``trust.safetensors``
beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from plugins.registry import registry
from robustness.uncertainty.calibration import calibrate, fit_temperature, helps_held_out
from robustness.uncertainty.conformal import (
    draws,
    label_scores,
    prediction_sets,
    quantile,
    smallest_calibration,
)
from robustness.uncertainty.metrics import ece, nll
from robustness.uncertainty.unfamiliar import KEPT, threshold

COVERAGE = 0.9  # the coverage a bundle's sets give unless asked otherwise
SCORE = "aps"
UNFAMILIAR = "energy"
NO_ERRORS = "the validation split holds no error to fit a temperature on: kept 1"
KEPT_ONE = ("a temperature fitted on half the validation split did not lower the other half's NLL by 1% "
            "(the model is calibrated already, or the split is too small to tell): kept 1")
TENSORS_FILE = "trust.safetensors"  # what an unfamiliar score fitted (Mahalanobis: whitening, class means)


@dataclass(frozen=True)
class TrustConfig:
    """How the record is fitted."""

    coverage: float = COVERAGE
    score: str = SCORE
    calibration_share: float = 0.5  # of the validation split, for the conformal scores
    kept: float = KEPT
    seed: int = 0
    unfamiliar: str = UNFAMILIAR  # a plugin of kind unfamiliar-score


def fit_trust(logits: Tensor, labels: Tensor, cfg: TrustConfig | None = None,
              features: Tensor | None = None) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The trust record of a model from its validation logits and labels, and the tensors its unfamiliar
    score keeps (none for energy). Shape: (N, K), (N,), features (N, F) where the score needs them."""
    cfg = cfg or TrustConfig()
    logits, labels = logits.double().cpu(), labels.cpu()
    n = len(labels)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    n_cal = int(round(n * cfg.calibration_share))
    fit, cal = order[: n - n_cal], order[n - n_cal :]
    errors = bool((logits.argmax(1) != labels).any())
    helps = errors and helps_held_out(logits, labels, cfg.seed)
    t = fit_temperature(logits, labels) if helps else 1.0  # no error: nothing says how sure to be
    t_sets = fit_temperature(logits[fit], labels[fit]) if len(fit) else 1.0
    if len(cal) and nll(logits[cal] / t_sets, labels[cal]) > nll(logits[cal], labels[cal]):
        t_sets = 1.0  # it does not hold on held-out examples (a share without errors drives it to T_MIN)
    score = registry.get("conformal-score", cfg.score)()
    u = draws(len(cal), cfg.seed)
    after = calibrate(logits[cal], t_sets).double()
    scores = label_scores(score, after, labels[cal], u) if len(cal) else torch.zeros(0)
    raw = torch.softmax(logits, 1)
    unfamiliar, tensors = _fit_unfamiliar(logits, labels, features, cfg, fit, cal)
    return {
        "calibration": {"method": "temperature", "temperature": round(t, 6), "fitted_on": n,
                        **({} if helps else {"note": KEPT_ONE if errors else NO_ERRORS}),
                        "ece_before": ece(raw, labels),
                        "ece_after": ece(calibrate(logits, t).double(), labels),
                        "nll_before": nll(logits, labels), "nll_after": nll(logits / t, labels)},
        "conformal": {"score": cfg.score, "coverage": cfg.coverage, "seed": cfg.seed,
                      "temperature": round(t_sets, 6), "fitted_on": len(fit),
                      "scores": [round(float(s), 6) for s in torch.sort(scores).values]},
        "unfamiliar": unfamiliar,
    }, tensors


def _fit_unfamiliar(logits: Tensor, labels: Tensor, features: Tensor | None, cfg: TrustConfig, fit: Tensor,
                    cal: Tensor) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The unfamiliar score's record and tensors. A score with nothing to fit (energy) sets its threshold
    on every validation input; one that fits (Mahalanobis) fits on the first share and sets the threshold
    on the second, which it never saw, so 95% of new familiar inputs stay under it."""
    scorer = registry.get("unfamiliar-score", cfg.unfamiliar)()
    if not scorer.needs_features:
        tensors: dict[str, Tensor] = {}
        familiar = scorer.score(logits, None, tensors)
        cut = round(threshold(familiar, cfg.kept), 6)
        return {"score": cfg.unfamiliar, "kept": cfg.kept, "threshold": cut}, tensors
    fit, cal = (fit, cal) if len(fit) and len(cal) else (torch.arange(len(labels)),) * 2
    feats = features.cpu() if features is not None else None
    tensors = scorer.fit(logits[fit], feats[fit] if feats is not None else None, labels[fit])
    familiar = scorer.score(logits[cal], feats[cal] if feats is not None else None, tensors)
    return {"score": cfg.unfamiliar, "kept": cfg.kept, "threshold": round(threshold(familiar, cfg.kept), 6),
            "fitted_on": len(fit), "file": TENSORS_FILE}, tensors


def _scorer(record: dict[str, Any]) -> Any:
    """The plugin class of the record's unfamiliar-input score (energy for records written before it was
    named)."""
    return registry.get("unfamiliar-score", record["unfamiliar"].get("score", UNFAMILIAR))


def needs_features(record: dict[str, Any] | None) -> bool:
    """Whether the record's unfamiliar score reads penultimate features (not only logits)."""
    if record is None:
        return False
    return bool(_scorer(record).needs_features)


def unfamiliar_scores(logits: Tensor, record: dict[str, Any], features: Tensor | None = None,
                      tensors: dict[str, Tensor] | None = None) -> Tensor:
    """The record's unfamiliar-input score of each input (higher: less familiar). Shape: (N, K) -> (N,)."""
    return _scorer(record)().score(logits.double().cpu(), features, tensors or {})


@dataclass(frozen=True)
class Trusted:
    """Per input: calibrated probabilities, the prediction set (None: the calibration share is too small
    for the coverage), the unfamiliar-input score and flag. Shape: probs (N, K), sets (N, K) bool, (N,)."""

    probs: Tensor
    sets: Tensor | None
    score: Tensor
    unfamiliar: Tensor
    coverage: float


def apply_trust(logits: Tensor, record: dict[str, Any], coverage: float | None = None, seed: int = 0,
                features: Tensor | None = None, tensors: dict[str, Tensor] | None = None) -> Trusted:
    """What a trust record says of new logits (``coverage``: default the record's; ``features`` and
    ``tensors`` for an unfamiliar score that reads features). Shape: (N, K), features (N, F)."""
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
    s = unfamiliar_scores(logits, record, features, tensors)
    return Trusted(probs.float(), sets, s, s > record["unfamiliar"]["threshold"], coverage)


def evaluate_trust(logits: Tensor, labels: Tensor, record: dict[str, Any], classes: list[str],
                   coverage: float | None = None, features: Tensor | None = None,
                   tensors: dict[str, Tensor] | None = None) -> dict[str, Any]:
    """How the record holds on labeled data: ECE and NLL raw and calibrated (with the reliability
    curve), the sets' empirical coverage and mean size (overall and per class), the share flagged
    unfamiliar. Shape: (N, K), (N,), features (N, F)."""
    from robustness.uncertainty.conformal import evaluate_sets
    from robustness.uncertainty.metrics import reliability

    logits, labels = logits.double().cpu(), labels.cpu()
    got = apply_trust(logits, record, coverage, features=features, tensors=tensors)
    raw = torch.softmax(logits, 1)
    t = record["calibration"]["temperature"]
    out: dict[str, Any] = {
        "calibration": {"temperature": t, "ece_raw": ece(raw, labels), "ece": ece(got.probs.double(), labels),
                        "nll_raw": nll(logits, labels), "nll": nll(logits / t, labels),
                        "reliability_raw": _curve(reliability(raw, labels)),
                        "reliability": _curve(reliability(got.probs.double(), labels))},
        "unfamiliar": {"score": record["unfamiliar"].get("score", UNFAMILIAR),
                       "threshold": record["unfamiliar"]["threshold"],
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


def summary(evaluated: dict[str, Any]) -> dict[str, Any]:
    """The few numbers of an ``evaluate_trust`` result a table has room for: calibrated (and raw) ECE, the
    sets' coverage (and target) and mean size, the share flagged unfamiliar."""
    c, sets = evaluated["calibration"], evaluated.get("conformal")
    out = {"ece": c["ece"], "ece_raw": c["ece_raw"], "flagged": evaluated["unfamiliar"]["flagged"]}
    if sets:
        out.update(coverage=sets["coverage"], coverage_target=sets["coverage_target"],
                   set_size=sets["mean_size"])
    return out


def separation(familiar: Tensor, unfamiliar: Tensor, record: dict[str, Any] | None) -> dict[str, Any]:
    """How well an unfamiliar-input score tells another source's inputs from familiar ones: AUROC, the
    familiar share flagged when 95% of the other source is, and (with a record) the other source's share
    over the bundle's threshold. Shape: scores (N,), (M,), higher for less familiar."""
    from robustness.uncertainty.metrics import auroc, fpr_at_tpr

    f, u = familiar.double().cpu(), unfamiliar.double().cpu()
    out: dict[str, Any] = {"n": len(u), "auroc": auroc(f, u), "fpr_at_95_tpr": fpr_at_tpr(f, u)}
    if record is not None:
        out["flagged_there"] = float((u > record["unfamiliar"]["threshold"]).double().mean())
    return out
