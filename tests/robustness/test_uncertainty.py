"""Calibration, conformal sets and unfamiliar-input scores on honestly generated problems."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from plugins.errors import InvalidInput
from plugins.registry import registry
from robustness.uncertainty.calibration import calibrate, fit_temperature
from robustness.uncertainty.conformal import (
    check_calibration,
    draws,
    evaluate_sets,
    label_scores,
    prediction_sets,
    quantile,
    smallest_calibration,
)
from robustness.uncertainty.metrics import auroc, ece, fpr_at_tpr, nll, reliability
from robustness.uncertainty.unfamiliar import energy, threshold


def calibrated_problem(n: int, k: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose softmax is the true label distribution (labels drawn from it): calibrated by
    construction. Shape: -> (n, k), (n,)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g, dtype=torch.float64) * 2.5
    labels = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).squeeze(1)
    return logits, labels


def test_temperature_fixes_overconfidence_and_never_changes_the_top_label() -> None:
    logits, labels = calibrated_problem(4000)
    sharp = logits * 3  # an overconfident model: the same ranking, probabilities too sure
    t = fit_temperature(sharp[:2000], labels[:2000])
    assert 2.5 < t < 3.5  # the temperature that undoes the sharpening
    after = calibrate(sharp[2000:], t)
    assert torch.equal(after.argmax(1), sharp[2000:].argmax(1))
    before_ece = ece(torch.softmax(sharp[2000:], 1), labels[2000:])
    assert ece(after, labels[2000:]) < before_ece / 2
    assert nll(sharp[2000:] / t, labels[2000:]) < nll(sharp[2000:], labels[2000:])


def test_ece_is_the_count_weighted_gap_per_bin() -> None:
    probs = torch.tensor([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.3, 0.7]])
    labels = torch.tensor([0, 1, 0, 1])
    curve = reliability(probs, labels, bins=10)
    assert sum(curve.count) == 4 and curve.count[9] == 2 and curve.count[5] == 1 and curve.count[6] == 1
    want = (2 * abs(0.5 - 0.95) + abs(1 - 0.55) + abs(1 - 0.7)) / 4
    assert ece(probs, labels, bins=10) == pytest.approx(want)
    assert nll(torch.log(probs), labels) == pytest.approx(float(F.nll_loss(torch.log(probs), labels)))


@pytest.mark.parametrize("name", ["aps", "lac", "raps"])
def test_split_conformal_covers_within_binomial_bounds(name: str) -> None:
    """20 random calibration / test splits of an exchangeable problem: each split's coverage within 4
    binomial standard errors of 0.9, their mean within 1.5 points (the guarantee: >= 0.9 on average,
    and at most 0.9 + 1 / (n + 1) for a continuous score)."""
    score = registry.get("conformal-score", name)()
    logits, labels = calibrated_problem(3000, seed=1)
    probs = torch.softmax(logits, 1)
    u = draws(len(labels), seed=0)
    coverages, sizes = [], []
    for split in range(20):
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(split))
        cal, test = order[:500], order[500:]
        q = quantile(label_scores(score, probs[cal], labels[cal], u[cal]), 0.9)
        result = evaluate_sets(prediction_sets(score, probs[test], q, u[test]), labels[test])
        coverages.append(result.coverage)
        sizes.append(result.mean_size)
    se = (0.9 * 0.1 / 2500) ** 0.5 + (0.9 * 0.1 / 500) ** 0.5
    assert all(abs(c - 0.9) < 4 * se for c in coverages), coverages
    assert abs(sum(coverages) / 20 - 0.9) < 0.015
    assert 1 < sum(sizes) / 20 < 10  # informative: neither top-1 only nor every label


def test_sets_hold_the_top1_without_covering_more_than_asked() -> None:
    """An accurate model (top-1 right about 85% of the time, asked for 90%): every set holds the top-1
    label, yet coverage stays at 0.9 (forcing the top-1 in after the fact would cover more, with larger
    sets)."""
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(6000, 10, generator=g, dtype=torch.float64) * 6
    labels = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).squeeze(1)
    probs, u, score = torch.softmax(logits, 1), draws(6000, seed=1), registry.get("conformal-score", "aps")()
    assert 0.8 < float((probs.argmax(1) == labels).double().mean()) < 0.9
    q = quantile(label_scores(score, probs[:3000], labels[:3000], u[:3000]), 0.9)
    sets = prediction_sets(score, probs[3000:], q, u[3000:])
    assert bool(sets[torch.arange(3000), probs[3000:].argmax(1)].all())
    assert abs(evaluate_sets(sets, labels[3000:]).coverage - 0.9) < 0.015
    forced = score.scores(probs[3000:], u[3000:]) <= quantile(
        score.scores(probs[:3000], u[:3000]).gather(1, labels[:3000].view(-1, 1)).squeeze(1), 0.9)
    forced[torch.arange(3000), probs[3000:].argmax(1)] = True
    assert evaluate_sets(forced, labels[3000:]).coverage > 0.92  # the usual way: more than asked
    assert sets.sum(1).double().mean() < forced.sum(1).double().mean()


def test_too_few_calibration_examples_are_refused_in_one_line() -> None:
    assert smallest_calibration(0.9) == 9 and smallest_calibration(0.95) == 19
    with pytest.raises(InvalidInput, match="coverage 0.95 needs at least 19 calibration examples but the "
                                           "validation share has 10"):
        check_calibration(10, 0.95)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        check_calibration(100, 1.0)


def test_energy_separates_unfamiliar_inputs() -> None:
    familiar, _ = calibrated_problem(1000, seed=2)
    familiar = familiar * 2  # confident on what it knows
    unfamiliar = torch.randn(1000, 10, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.3
    f, u = energy(familiar), energy(unfamiliar)
    area = auroc(f, u)
    want = roc_auc_score([0] * len(f) + [1] * len(u), torch.cat([f, u]).numpy())
    assert area == pytest.approx(want) and area > 0.9
    cut = threshold(f)
    assert float((f <= cut).double().mean()) == pytest.approx(0.95, abs=0.002)
    assert 0 <= fpr_at_tpr(f, u) < 0.5
    tied = torch.zeros(4, dtype=torch.float64)
    assert auroc(tied, tied) == pytest.approx(0.5)  # ties count half


def test_a_trust_record_fits_on_validation_and_applies_to_new_logits() -> None:
    from robustness.uncertainty.record import apply_trust, fit_trust

    logits, labels = calibrated_problem(2400, seed=4)
    sharp = logits * 2.0
    record, tensors = fit_trust(sharp[:1200], labels[:1200])
    assert tensors == {} and record["unfamiliar"]["score"] == "energy"  # energy keeps nothing
    c = record["calibration"]
    assert 1.5 < c["temperature"] < 2.5 and c["ece_after"] < c["ece_before"]
    assert c["nll_after"] < c["nll_before"]
    assert len(record["conformal"]["scores"]) == 600  # the calibration share, never seen by the temperature
    got = apply_trust(sharp[1200:], record)
    assert torch.equal(got.probs.argmax(1), sharp[1200:].argmax(1))
    assert got.sets is not None
    assert abs(evaluate_sets(got.sets, labels[1200:]).coverage - 0.9) < 0.04
    assert abs(float(got.unfamiliar.double().mean()) - 0.05) < 0.03  # familiar inputs: about 5% flagged
    assert apply_trust(sharp[:5], record, coverage=0.5).sets is not None
    calibrated, _ = fit_trust(logits[:1200], labels[:1200])  # nothing to fix: no temperature chasing noise
    kept = calibrated["calibration"]
    assert kept["temperature"] == 1 and "did not lower" in kept["note"]
    tiny, _ = fit_trust(sharp[:10], labels[:10])  # 5 calibration examples cannot give 90%
    assert apply_trust(sharp[:3], tiny).sets is None


def feature_problem(n: int, shift: float = 0.0, seed: int = 0
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Penultimate features of 4 classes, Gaussian around class means with one correlated covariance
    (more features than a small split can estimate well), a linear head's logits, the labels; ``shift``
    moves every input off the familiar clusters along the directions of least variance. Shape: -> (n, 4),
    (n, 64), (n,)."""
    g = torch.Generator().manual_seed(seed)
    d = 64
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    scale = torch.linspace(3.0, 0.1, d, dtype=torch.float64)  # a few directions carry most variance
    means = torch.randn(4, d, generator=torch.Generator().manual_seed(98), dtype=torch.float64) * 1.5
    labels = torch.randint(0, 4, (n,), generator=g)
    q, _ = torch.linalg.qr(mix)
    noise = (torch.randn(n, d, generator=g, dtype=torch.float64) * scale) @ q.T
    off = shift * q[:, -8:].sum(1)  # along the 8 quietest directions
    feats = means[labels] + noise + off
    head = means  # a nearest-mean style linear head
    return feats @ head.T - 0.5 * (head * head).sum(1), feats, labels


def test_mahalanobis_fits_on_features_and_flags_shifted_inputs() -> None:
    from robustness.uncertainty.record import TrustConfig, apply_trust, fit_trust, needs_features

    logits, feats, labels = feature_problem(400)  # a validation split smaller than 64 x 64 / 2 would need
    cfg = TrustConfig(unfamiliar="mahalanobis")
    record, tensors = fit_trust(logits, labels, cfg, feats)
    assert needs_features(record) and record["unfamiliar"]["fitted_on"] == 200
    assert tensors["whiten"].shape == (64, 64) and tensors["means"].shape == (4, 64)
    new_logits, new_feats, _ = feature_problem(2000, seed=1)
    far_logits, far_feats, _ = feature_problem(2000, shift=3.0, seed=2)
    familiar = apply_trust(new_logits, record, features=new_feats, tensors=tensors)
    shifted = apply_trust(far_logits, record, features=far_feats, tensors=tensors)
    assert abs(float(familiar.unfamiliar.double().mean()) - 0.05) < 0.04  # threshold on unseen validation
    assert float(shifted.unfamiliar.double().mean()) > 0.9
    by_features = auroc(familiar.score, shifted.score)
    by_energy = auroc(energy(new_logits), energy(far_logits))
    assert by_features > 0.97 and by_features > by_energy + 0.1  # the shift barely moves the logits
    with pytest.raises(InvalidInput, match="one feature vector per input"):
        apply_trust(new_logits[:3], record, features=None, tensors=tensors)
