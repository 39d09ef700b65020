"""Attack contract over the registry, agreement with torchattacks, and the sanity flags."""

from __future__ import annotations

import pytest
import torch
import torchattacks
from torch import Tensor, nn

from finetune.adapters.base import AdapterConfig
from finetune.config import TrainConfig
from finetune.data.spec import load_data
from finetune.data.splits import SplitConfig, make_splits
from finetune.preprocess import prepare_inputs
from finetune.trainer import Trainer
from plugins import RobustuneError
from plugins.backbones import BackboneConfig
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry
from robustness.attacks.base import AttackConfig, perturbation_norm
from robustness.audit import AuditConfig, run_audit


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


@pytest.mark.parametrize("name", IMAGE_ATTACKS)
def test_attack_stays_in_ball_and_range(name: str, trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y = trained
    eps = 0.5 if name in ("cw", "deepfool", "pgd-l2") else 8 / 255
    attack = registry.get("attack", name)(AttackConfig(eps=eps, steps=5, n_queries=50))
    n = {"autoattack": 4, "deepfool": 8}.get(name, len(x))
    adv = attack(model, x[:n], y[:n])
    assert adv.shape == x[:n].shape
    assert float(perturbation_norm(adv - x[:n], attack.norm).max()) <= eps + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert all(p.requires_grad for p in model.parameters())  # restored afterwards
    with torch.no_grad():
        fooled = (model(adv).argmax(1) != y[:n]).float().mean()
        clean_wrong = (model(x[:n]).argmax(1) != y[:n]).float().mean()
    assert fooled >= clean_wrong  # an attack never makes the model more accurate


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
