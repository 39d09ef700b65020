"""Adapters and the trainer on small real data (digits)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from finetune.adapters.config import AdapterConfig
from finetune.config import TrainConfig
from finetune.data.config import SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.inference import compute_features
from finetune.preprocess import prepare_inputs
from finetune.trainer import Trainer, balanced_weights, warmup_cosine
from plugins.backbones import BackboneConfig
from plugins.events import Cancelled, ListEvents, Metric
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits() -> tuple:
    s = make_splits(load_data("digits"), SplitConfig(per_class=30, seed=0))
    return s


def _model(size: int = 16):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return build_classifier(ModelSpec("resnet18", 10, BackboneConfig(weights="none", image_size=size)))


def _inputs(model, splits):  # type: ignore[no-untyped-def]
    pre = model.backbone.preprocessing()
    return prepare_inputs(splits.train, pre), prepare_inputs(splits.val, pre)


def test_full_training_lowers_loss_and_learns(digits) -> None:  # type: ignore[no-untyped-def]
    model = _model()
    plan = registry.get("adapter", "full").plan(model, 3e-3, AdapterConfig(backbone_lr_mult=0.5))
    assert [g["name"] for g in plan.param_groups] == ["backbone", "head"]
    assert plan.param_groups[0]["lr"] == pytest.approx(1.5e-3)
    train, val = _inputs(model, digits)
    cfg = TrainConfig(epochs=6, batch_size=32, lr=3e-3, patience=6)
    history = Trainer(plan, cfg, CPU, 10).fit(train, digits.train.labels, val,
                                                              digits.val.labels)
    losses = [h["train_loss"] for h in history.epochs]
    assert losses[-1] < losses[0] * 0.5
    assert max(h["val_accuracy"] for h in history.epochs) > 0.5


def test_linear_probe_runs_the_backbone_once(digits) -> None:  # type: ignore[no-untyped-def]
    model = _model()
    calls = []
    model.backbone.register_forward_hook(lambda *a: calls.append(1))
    plan = registry.get("adapter", "linear-probe").plan(model, 1e-2, AdapterConfig())
    assert plan.cache_features and plan.module is model.head
    assert not any(p.requires_grad for p in model.backbone.parameters())
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    train, val = _inputs(model, digits)
    train_f, val_f = compute_features(model, train), compute_features(model, val)
    cached_calls = len(calls)
    cfg = TrainConfig(epochs=5, lr=1e-2, patience=5)
    Trainer(plan, cfg, CPU, 10).fit(train_f, digits.train.labels, val_f,
                                                    digits.val.labels)
    assert len(calls) == cached_calls == 3  # 240 train + 60 val in batches of 128, never again
    after = model.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics too


def test_partial_freezes_early_blocks(digits) -> None:  # type: ignore[no-untyped-def]
    model = _model()
    plan = registry.get("adapter", "partial").plan(model, 1e-3, AdapterConfig(unfreeze=1))
    assert all(not p.requires_grad for p in model.backbone.model.layer3.parameters())
    assert all(p.requires_grad for p in model.backbone.model.layer4.parameters())
    before = model.backbone.model.layer1[0].bn1.running_mean.clone()
    train, val = _inputs(model, digits)
    Trainer(plan, TrainConfig(epochs=1), CPU, 10).fit(
        train, digits.train.labels, val, digits.val.labels)
    assert torch.equal(before, model.backbone.model.layer1[0].bn1.running_mean)


def test_early_stopping_restores_best_epoch(digits) -> None:  # type: ignore[no-untyped-def]
    model = _model()
    plan = registry.get("adapter", "full").plan(model, 0.5, AdapterConfig(backbone_lr_mult=1.0))
    train, val = _inputs(model, digits)
    cfg = TrainConfig(epochs=8, lr=0.5, patience=2, warmup_fraction=0.0, grad_clip=0.0)
    history = Trainer(plan, cfg, CPU, 10).fit(train, digits.train.labels, val,
                                                              digits.val.labels)
    best = max(history.epochs, key=lambda h: (h["val_accuracy"], -h["val_loss"]))
    assert history.best_epoch == best["epoch"]
    from finetune.inference import predict_logits

    acc = (predict_logits(model, val).argmax(1) == digits.val.labels).float().mean()
    assert float(acc) == pytest.approx(best["val_accuracy"])


def test_schedule_and_class_weights() -> None:
    f = warmup_cosine(100, 0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0) and f(99) < 0.01
    w = balanced_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert w.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])


def _stop_after(n: int) -> ListEvents:
    """Events that cancel the run once ``n`` epochs are done (the cancellation check stops it)."""
    return ListEvents(lambda events: any(isinstance(e, Metric) and e.name == "epoch" and e.step >= n
                                         for e in events))


def test_checkpoint_resume_matches(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    cfg = TrainConfig(epochs=3, lr=3e-3, patience=5, augment="shift")

    def trainer(folder: Path | None, callback=None):  # type: ignore[no-untyped-def]
        model = _model()
        plan = registry.get("adapter", "full").plan(model, 3e-3, AdapterConfig())
        return model, Trainer(plan, cfg, CPU, 10, folder, events=callback)

    train, val = _inputs(_model(), digits)
    args = (train, digits.train.labels, val, digits.val.labels)
    straight, t = trainer(None)
    h_straight = t.fit(*args)
    _, t = trainer(tmp_path / "ckpt", _stop_after(1))
    with pytest.raises(Cancelled):
        t.fit(*args)
    resumed, t = trainer(tmp_path / "ckpt")
    h_resumed = t.fit(*args)
    assert h_resumed.epochs == h_straight.epochs
    a, b = straight.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
