"""Randomized smoothing's CERTIFY: against the closed form of a linear classifier, an abstention on a tie,
equal to a per-input re-implementation of Cohen et al.'s procedure, and independent of the batch size."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from robustness.certify import (
    ABSTAIN,
    certified_accuracy,
    certify,
    counts,
    generators,
    lower_bound,
    radius_grid,
)
from robustness.config import SmoothingConfig


class Linear2(nn.Module):
    """Two classes split by the hyperplane w.x + b = 0 (class 1 on its positive side)."""

    def __init__(self, w: Tensor, b: float) -> None:
        super().__init__()
        self.w, self.b = w, b

    def forward(self, x: Tensor) -> Tensor:
        score = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(score), score], 1)


def test_the_certified_radius_of_a_linear_model_is_below_and_near_its_exact_radius() -> None:
    torch.manual_seed(0)
    w = torch.randn(10)
    model = Linear2(w, 0.1)
    x = torch.randn(60, 10) * 0.4
    exact = (x @ w + 0.1).abs() / w.norm()  # the distance to the hyperplane: the smoothed radius itself
    cfg = SmoothingConfig(sigma=0.5, n0=100, n=10_000, alpha=0.001, batch_size=4096)
    cert = certify(model, x, 2, cfg)
    side = (x @ w + 0.1 > 0).long()
    kept = cert.predictions != ABSTAIN
    assert bool((cert.predictions[kept] == side[kept]).all())
    assert bool((cert.radii[kept] <= exact[kept] + 1e-6).all())  # a lower bound (alpha = 0.001)
    # within 10% of the exact radius at n = 10,000 once it is half of sigma or more (below, the bound's
    # absolute slack, about 0.02 here, is more than a tenth of the radius) and below the largest one
    inside = kept & (exact > cfg.sigma / 2) & (exact < 1.2)
    assert int(inside.sum()) >= 10
    assert bool((cert.radii[inside] >= 0.9 * exact[inside]).all()), (cert.radii[inside], exact[inside])


def test_a_tie_between_the_top_two_classes_abstains() -> None:
    w = torch.tensor([1.0, 0.0])
    on_the_plane = torch.tensor([[0.0, 3.0], [0.0, -2.0]])  # P(class 1) = 1/2 exactly
    cert = certify(Linear2(w, 0.0), on_the_plane, 2, SmoothingConfig(sigma=0.25, n=2000))
    assert cert.predictions.tolist() == [ABSTAIN, ABSTAIN] and cert.radii.tolist() == [0.0, 0.0]


def cohen_certify(model: nn.Module, x: Tensor, n0: int, n: int, alpha: float, sigma: float, seed: int,
                  index: int, batch: int = 100) -> tuple[int, float]:
    """Cohen et al.'s ``Smooth.certify`` (github.com/locuslab/smoothing, core.py) for one input, as
    published (a loop of noise batches, argmax counts, the Clopper-Pearson bound of statsmodels' beta
    method at 2 alpha, two-sided), drawing its noise from the input's own generator in the same chunks."""
    from scipy.stats import beta, norm

    gen = generators(1, seed, index)[0]

    def sample(num: int) -> Tensor:
        out = torch.zeros(2, dtype=torch.long)
        while num > 0:
            this = min(batch, num)
            num -= this
            noise = torch.randn((this, *x.shape), generator=gen) * sigma
            out += torch.bincount(model(x.repeat(this, *([1] * x.dim())) + noise).argmax(1), minlength=2)
        return out

    c_hat = int(sample(n0).argmax())
    n_a = int(sample(n)[c_hat])
    p_bar = 0.0 if n_a == 0 else float(beta.ppf(alpha, n_a, n - n_a + 1))  # = proportion_confint(..)[0]
    return (ABSTAIN, 0.0) if p_bar < 0.5 else (c_hat, sigma * float(norm.ppf(p_bar)))


def test_equal_to_a_per_input_reimplementation_of_cohens_certify() -> None:
    torch.manual_seed(1)
    model = Linear2(torch.randn(6), 0.05)
    x = torch.randn(12, 6) * 0.2
    cfg = SmoothingConfig(sigma=0.25, n0=100, n=500, alpha=0.001, batch_size=700, seed=7)
    ours = certify(model, x, 2, cfg)
    for i in range(len(x)):
        label, radius = cohen_certify(model, x[i], cfg.n0, cfg.n, cfg.alpha, cfg.sigma, cfg.seed, i)
        assert int(ours.predictions[i]) == label
        assert float(ours.radii[i]) == pytest.approx(radius, abs=1e-5)


def test_counts_do_not_depend_on_the_batch_size() -> None:
    model = Linear2(torch.tensor([1.0, -1.0, 0.5]), 0.0)
    x = torch.randn(5, 3)
    a = counts(model, x, 250, 0.5, generators(5, 3), 2, batch_size=64)
    b = counts(model, x, 250, 0.5, generators(5, 3), 2, batch_size=100_000)
    assert torch.equal(a, b) and a.sum(1).tolist() == [250] * 5
    seen: list[int] = []  # passes of exactly the batch size, chunks split across them (7 does not divide 100)

    def counting(z: torch.Tensor) -> torch.Tensor:
        seen.append(len(z))
        return model(z)

    c = counts(counting, x, 250, 0.5, generators(5, 3), 2, batch_size=7)
    assert torch.equal(a, c) and seen[:-1] == [7] * (len(seen) - 1) and sum(seen) == 1250 and seen[-1] <= 7


def test_the_bound_and_the_grid() -> None:
    assert lower_bound(torch.tensor([0, 1000]), 1000, 0.001).tolist() == pytest.approx([0.0, 0.001 ** 0.001])
    grid = radius_grid(SmoothingConfig(sigma=0.25, n=1000))
    assert grid[:3] == [0.0, 0.25, 0.5] and grid[-1] >= 0.25 * 2.4
    cert = certify(Linear2(torch.tensor([1.0]), 0.0), torch.tensor([[2.0], [-2.0], [0.01]]), 2,
                   SmoothingConfig(sigma=0.25))
    acc = certified_accuracy(cert, torch.tensor([1, 1, 1]), [0.0, 0.5])
    assert acc == pytest.approx([1 / 3, 1 / 3], abs=1e-6)


def test_a_stopped_certification_continues_where_it_stopped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from plugins.events import Cancelled, ListEvents, Progress, Reporter
    from robustness.smoothing_audit import CERTIFY_CHUNK, certify_all, image_groups

    model = Linear2(torch.tensor([1.0, -0.5, 0.25]), 0.1)
    x = torch.randn(2 * CERTIFY_CHUNK + 5, 3)
    cfg = SmoothingConfig(sigma=0.3, n0=50, n=300, batch_size=500)
    groups = image_groups(model, x)
    whole = certify_all(groups, len(x), 2, cfg, Reporter())
    partial = tmp_path / "partial.json"
    stop = ListEvents(lambda ev: sum(isinstance(e, Progress) and e.step > 0 for e in ev) >= 1)
    with pytest.raises(Cancelled):
        certify_all(groups, len(x), 2, cfg, Reporter(stop), partial)
    assert partial.is_file()  # the first chunk is kept
    events = ListEvents()
    again = certify_all(groups, len(x), 2, cfg, Reporter(events), partial)
    assert any("continuing after the 20 inputs" in getattr(e, "message", "") for e in events.events)
    assert torch.equal(again.predictions, whole.predictions) and torch.equal(again.radii, whole.radii)
