"""Attack contract over the registry, agreement with torchattacks, and the sanity flags.

The contract is checked on each attack's own output (``Attack.raw``), before the base class
enforces the budget: ``project`` would otherwise hide an attack that leaves the ball or [0, 1].
The projection and the over-budget rejection are tested once, on their own, on hand-made tensors.
"""

from __future__ import annotations

import pytest
import torch
import torchattacks
from torch import Tensor, nn

from finetune.adapters.config import AdapterConfig
from finetune.config import TrainConfig
from finetune.data.config import SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.preprocess import prepare_inputs
from finetune.trainer import Trainer
from plugins import RobustuneError
from plugins.backbones import BackboneConfig
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry
from robustness.attacks.base import Attack, AttackConfig, perturbation_norm, project, reject_over_budget
from robustness.audit import run_audit
from robustness.config import AuditConfig


@pytest.fixture(scope="module")
def trained() -> tuple[nn.Module, Tensor, Tensor]:
    """A ResNet-18 trained briefly on digits at 16 px, and 48 holdout images it mostly gets right."""
    splits = make_splits(load_data("digits"), SplitConfig(per_class=60))
    torch.manual_seed(0)
    model = build_classifier(ModelSpec("resnet18", 10, BackboneConfig(weights="none", image_size=16)))
    plan = registry.get("adapter", "full").plan(model, 3e-3, AdapterConfig(backbone_lr_mult=1.0))
    pre = model.backbone.preprocessing()
    tr, va = prepare_inputs(splits.train, pre), prepare_inputs(splits.val, pre)
    Trainer(plan, TrainConfig(epochs=6, lr=3e-3), torch.device("cpu"), 10).fit(
        tr, splits.train.labels, va, splits.val.labels)
    model.eval()
    x = prepare_inputs(splits.test, pre)["pixels"][:48].float() / 255
    return model, x, splits.test.labels[:48]


IMAGE_ATTACKS = [n for n in registry.names("attack") if registry.get("attack", n).modality == "image"]


def assert_keeps_contract(attack: Attack, x: Tensor, raw: Tensor) -> None:
    """The attack's own output, before the base class enforces the budget: the input's shape,
    pixels in [0, 1], and inside the eps-ball in the attack's norm, except for minimal-norm attacks
    (an over-budget result is theirs to return: it counts as a failure).

    Shape: x (N, C, H, W), raw (N, C, H, W).
    """
    assert raw.shape == x.shape, f"{attack.name}: shape {tuple(raw.shape)} for {tuple(x.shape)}"
    lo, hi = float(raw.min()), float(raw.max())
    assert lo >= 0.0 and hi <= 1.0, f"{attack.name}: pixels in [{lo:g}, {hi:g}], outside [0, 1]"
    if not attack.minimal_norm:
        worst = float(perturbation_norm(raw - x, attack.norm).max())
        eps = attack.cfg.eps
        assert worst <= eps + 1e-6, f"{attack.name}: {attack.norm} perturbation {worst:g} > eps {eps:g}"


@pytest.mark.parametrize("name", IMAGE_ATTACKS)
def test_attack_keeps_its_own_contract(name: str, trained) -> None:  # type: ignore[no-untyped-def]
    """Every registered image attack, checked before projection; one run each (``__call__`` is
    ``enforce(raw)``: see ``test_call_is_raw_then_enforce``)."""
    model, x, y = trained
    eps = 0.5 if name in ("cw", "deepfool", "pgd-l2") else 8 / 255
    attack = registry.get("attack", name)(AttackConfig(eps=eps, steps=5, n_queries=50))
    n = {"autoattack": 2, "deepfool": 8}.get(name, len(x))  # autoattack: 100 steps per target class
    x, y = x[:n], y[:n]
    raw = attack.raw(model, x, y)
    assert_keeps_contract(attack, x, raw)
    assert all(p.requires_grad for p in model.parameters())  # restored afterwards
    adv = attack.enforce(raw, x)
    if attack.minimal_norm:  # over budget: failed, the clean input; within: kept as it is
        over = perturbation_norm(raw - x, attack.norm) > eps
        assert torch.equal(adv[over], x[over])
        assert torch.allclose(adv[~over], raw[~over], atol=1e-6)
    with torch.no_grad():
        fooled = (model(adv).argmax(1) != y).float().mean()
        clean_wrong = (model(x).argmax(1) != y).float().mean()
    assert fooled >= clean_wrong  # an attack never makes the model more accurate


def test_call_is_raw_then_enforce(trained) -> None:  # type: ignore[no-untyped-def]
    """``__call__`` returns exactly ``enforce(raw)``, with the same ``done`` handling and spending;
    PGD's own early-stopping loop (the audit's default) keeps the contract too."""
    model, x, y = trained
    x, y = x[:16], y[:16]
    done = torch.arange(16) % 3 == 0
    cfg = AttackConfig(eps=8 / 255, steps=5, early_stop=True)
    called, checked = (registry.get("attack", "pgd")(cfg) for _ in range(2))
    adv = called(model, x, y, done)
    raw = checked.raw(model, x, y, done)
    assert_keeps_contract(checked, x, raw)
    assert torch.equal(raw[done], x[done])  # settled samples are not attacked
    assert torch.equal(adv, checked.enforce(raw, x))
    assert called.spent == checked.spent > 0


class OutsideBall(Attack):
    """A broken attack: twice the budget, pixels still in [0, 1]."""

    name = "test-outside-ball"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return x + 2 * self.cfg.eps * torch.where(x < 0.5, 1.0, -1.0)


class OutsideBallL2(OutsideBall):
    name = "test-outside-ball-l2"
    norm = "L2"


class OutsideRange(Attack):
    """A broken attack: within the budget, but below 0 where the image is black."""

    name = "test-outside-range"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return x - self.cfg.eps / 2


class MinimalOutsideRange(OutsideRange):
    name = "test-minimal-outside-range"
    norm = "L2"
    minimal_norm = True


@pytest.mark.parametrize(("broken", "message"), [(OutsideBall, "Linf perturbation"),
                                                 (OutsideBallL2, "L2 perturbation"),
                                                 (OutsideRange, r"outside \[0, 1\]"),
                                                 (MinimalOutsideRange, r"outside \[0, 1\]")])
def test_contract_check_catches_a_broken_attack(broken: type[Attack], message: str) -> None:
    """The check fails for an attack that leaves the ball or [0, 1], although the projected result
    (what the old check saw) is fine."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))
    x = torch.rand(4, 3, 4, 4)
    x[:, :, 0, 0] = 0.0
    y = torch.arange(4)
    attack = broken(AttackConfig(eps=0.1))
    with pytest.raises(AssertionError, match=message):
        assert_keeps_contract(attack, x, attack.raw(model, x, y))
    adv = attack(model, x, y)
    assert float(perturbation_norm(adv - x, attack.norm).max()) <= 0.1 + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


def test_contract_check_lets_minimal_norm_attacks_exceed_eps() -> None:
    """Over budget is no breach for a minimal-norm attack: the check passes, the base rejects it."""
    x = torch.full((2, 1, 2, 2), 0.5)
    attack = MinimalOutsideRange(AttackConfig(eps=0.1))
    raw = x + torch.tensor([0.02, 0.3]).view(2, 1, 1, 1)  # L2 norms 0.04 and 0.6
    assert_keeps_contract(attack, x, raw)
    assert torch.equal(attack.enforce(raw, x), torch.stack([raw[0], x[1]]))


def test_project_linf() -> None:
    """Coordinate-wise clamp to the box: inside unchanged, outside onto the face, then [0, 1]."""
    x = torch.full((3, 1, 2, 2), 0.5)
    x[2] = 0.95
    delta = torch.tensor([[0.05, -0.1, 0.0, 0.02],  # inside (one coordinate on the boundary)
                          [0.3, -0.4, 0.05, 0.0],  # outside: two coordinates clamped, two kept
                          [0.1, 0.1, -0.1, 0.0]]).view(3, 1, 2, 2)  # inside the ball, above 1
    out = project(x + delta, x, 0.1, "Linf")
    assert torch.equal(out[0], (x + delta)[0])
    assert torch.allclose(out[1] - x[1], torch.tensor([0.1, -0.1, 0.05, 0.0]).view(1, 2, 2), atol=1e-7)
    assert torch.allclose(out[2], torch.tensor([1.0, 1.0, 0.85, 0.95]).view(1, 2, 2))
    assert float(perturbation_norm(out - x, "Linf").max()) <= 0.1 + 1e-7
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_project_l2() -> None:
    """Scaled back along the perturbation onto the sphere, per example; then [0, 1]."""
    x = torch.full((4, 1, 2, 2), 0.5)
    x[3] = 0.98
    delta = torch.tensor([[0.03, -0.04, 0.0, 0.0],  # norm 0.05: inside
                          [0.3, -0.4, 0.0, 0.0],  # norm 0.5: onto the sphere, same direction
                          [0.0, 0.0, 0.0, 0.0],  # no perturbation (no division by zero)
                          [0.3, 0.4, 0.0, 0.0]]).view(4, 1, 2, 2)  # onto the sphere, then above 1
    out = project(x + delta, x, 0.1, "L2")
    assert torch.equal(out[0], (x + delta)[0]) and torch.equal(out[2], x[2])
    moved = (out[1] - x[1]).flatten()
    assert abs(float(moved.norm()) - 0.1) < 1e-6
    assert float(torch.cosine_similarity(moved, delta[1].flatten(), dim=0)) > 1 - 1e-6
    assert torch.allclose(out[1] - x[1], delta[1] / 5, atol=1e-7)
    assert torch.allclose(out[3], torch.tensor([1.0, 1.0, 0.98, 0.98]).view(1, 2, 2))  # 1.04, 1.06 clipped
    assert float(perturbation_norm(out - x, "L2").max()) <= 0.1 + 1e-6
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_reject_over_budget(norm: str) -> None:
    """Minimal-norm attacks: over budget becomes the clean input; on or inside the budget is kept."""
    x = torch.full((3, 1, 2, 2), 0.5)
    delta = torch.zeros(3, 1, 2, 2)
    delta[0, 0, 0, 0], delta[1, 0, 0, 0], delta[2, 0, 0, 0] = 0.125, 0.25, 0.375  # exact in binary
    out = reject_over_budget(x + delta, x, 0.25, norm)
    assert torch.equal(out[:2], (x + delta)[:2]) and torch.equal(out[2], x[2])


def test_audit_matches_torchattacks_direct(trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y = trained
    eps = 4 / 255
    report = run_audit(model, x, y, [str(i) for i in range(10)],
                       AuditConfig(attacks=("pgd",), eps=(eps,), steps=10, seed=0, independent=True)).report
    assert report["config"]["mode"] == "independent"
    torch.manual_seed(0)
    for p in model.parameters():
        p.requires_grad_(False)
    adv = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / 10, steps=10, random_start=True)(x, y)
    for p in model.parameters():
        p.requires_grad_(True)
    with torch.no_grad():
        direct = float((model(adv).argmax(1) == y).float().mean())
    ours = report["attacks"]["pgd"][f"{eps:.6g}"]["robust_accuracy"]
    assert abs(ours - direct) <= 0.01 + 1e-9
    assert report["clean_accuracy"] >= ours


def test_cascade_is_never_weaker_than_independent_and_spends_less(trained) -> None:  # type: ignore[no-untyped-def]
    """Skipping settled samples (fooled at a smaller budget, or earlier in PGD) may only make the
    attack stronger: robust accuracy per attack and budget is never above the independent run's."""
    model, x, y = trained
    budgets = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
    runs = {mode: run_audit(model, x, y, [str(i) for i in range(10)],
                            AuditConfig(attacks=("fgsm", "pgd"), eps=budgets, steps=10, seed=0,
                                        independent=mode == "independent")).report
            for mode in ("cascade", "independent")}
    fast, slow = runs["cascade"], runs["independent"]
    assert fast["config"]["mode"] == "cascade" and slow["config"]["mode"] == "independent"
    for name in ("fgsm", "pgd"):
        curve = [fast["attacks"][name][f"{e:.6g}"]["robust_accuracy"] for e in budgets]
        assert curve == sorted(curve, reverse=True)  # a sample once fooled stays fooled
        for eps in budgets:
            ours, theirs = (r["attacks"][name][f"{eps:.6g}"] for r in (fast, slow))
            assert ours["robust_accuracy"] <= theirs["robust_accuracy"], (name, eps)
            assert ours["attacked"] <= theirs["attacked"] == len(x)
    spent = {mode: sum(s["gradient_steps"] for a in r["attacks"].values() for s in a.values())
             for mode, r in runs.items()}
    assert spent["cascade"] < spent["independent"] == len(x) * (1 + 10) * len(budgets)
    assert fast["attacks"]["pgd"][f"{budgets[-1]:.6g}"]["robust_accuracy"] < fast["clean_accuracy"]


def test_cascade_with_nothing_left_to_attack(trained) -> None:  # type: ignore[no-untyped-def]
    """Labels the model gets wrong: (almost) nothing is attacked, and an empty budget is no error."""
    model, x, y = trained
    wrong = (y[:8] + 1) % 10
    report = run_audit(model, x[:8], wrong, [str(i) for i in range(10)],
                       AuditConfig(attacks=("fgsm", "pgd"), eps=(2 / 255, 8 / 255), steps=3)).report
    right = round(report["clean_accuracy"] * 8)
    for name in ("fgsm", "pgd"):
        first, last = (report["attacks"][name][f"{e:.6g}"] for e in (2 / 255, 8 / 255))
        assert first["attacked"] == right and last["attacked"] <= right
        assert last["robust_accuracy"] <= first["robust_accuracy"] <= report["clean_accuracy"]


class Softmaxed(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.inner(x), dim=1)


class Noisy(Softmaxed):
    def forward(self, x: Tensor) -> Tensor:
        return self.inner(x + 0.05 * torch.randn_like(x))


class Quantized(Softmaxed):
    def forward(self, x: Tensor) -> Tensor:
        return self.inner(torch.round(x * 4) / 4)  # differentiable, but the gradient is zero


class Thresholded(Softmaxed):
    def forward(self, x: Tensor) -> Tensor:
        return self.inner((x > 0.5).float())  # no gradient path at all


def test_gradient_attack_on_model_without_gradients(trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y = trained
    with pytest.raises(RobustuneError, match="need gradients.*attacks square"):
        run_audit(Thresholded(model), x[:8], y[:8], [str(i) for i in range(10)],
                  AuditConfig(attacks=("square", "pgd"), eps=(2 / 255,)))
    report = run_audit(Thresholded(model), x[:8], y[:8], [str(i) for i in range(10)],
                       AuditConfig(attacks=("square",), eps=(8 / 255,), n_queries=20)).report
    assert "vanishing_gradients" in {f["code"] for f in report["flags"]}


@pytest.mark.parametrize(("wrapper", "code"), [(Softmaxed, "probabilities"), (Noisy, "randomized"),
                                               (Quantized, "vanishing_gradients")])
def test_sanity_flags(trained, wrapper: type, code: str) -> None:  # type: ignore[no-untyped-def]
    model, x, y = trained
    report = run_audit(wrapper(model), x[:16], y[:16], [str(i) for i in range(10)],
                       AuditConfig(attacks=("fgsm",), eps=(2 / 255,))).report
    assert code in {f["code"] for f in report["flags"]}


def test_clean_model_raises_no_model_flags(trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y = trained
    report = run_audit(model, x[:16], y[:16], [str(i) for i in range(10)],
                       AuditConfig(attacks=("fgsm", "pgd"), eps=(2 / 255, 8 / 255), steps=5)).report
    assert not {"probabilities", "randomized", "vanishing_gradients", "outside_ball"} & {
        f["code"] for f in report["flags"]}
    worst = report["worst_case"][f"{8 / 255:.6g}"]["robust_accuracy"]
    assert worst <= min(report["attacks"][a][f"{8 / 255:.6g}"]["robust_accuracy"] for a in ("fgsm", "pgd"))


@pytest.mark.parametrize("eps", [0.0, -0.1, 1.5])
def test_epsilon_outside_unit_interval(eps: float) -> None:
    with pytest.raises(RobustuneError, match=r"outside \(0, 1\]"):
        AttackConfig(eps=eps)


def test_the_audit_flags_an_attack_that_leaves_its_ball(trained) -> None:  # type: ignore[no-untyped-def]
    """The audit scores projected examples, but counts what the attack itself returned: a broken attack
    raises the outside_ball flag; a sound one does not."""
    from plugins.registry import Entry

    model, x, y = trained
    registry.add(Entry("attack", OutsideBall.name, OutsideBall, "a broken test attack", "tests"))
    try:
        cfg = AuditConfig(attacks=(OutsideBall.name, "fgsm"), eps=(4 / 255,), independent=True)
        flags = run_audit(model, x[:8], y[:8], [str(i) for i in range(10)], cfg).report["flags"]
    finally:
        del registry._entries["attack"][OutsideBall.name]  # the registry stays as the other tests know it
    outside = [f for f in flags if f["code"] == "outside_ball"]
    assert len(outside) == 1 and outside[0]["message"].startswith(f"{OutsideBall.name}: 8 of its own"), flags
