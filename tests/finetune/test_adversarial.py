"""Adversarial training (PGD, TRADES) makes a model measurably more robust."""

from __future__ import annotations

import pytest
import torch

from finetune.driver import run_training
from finetune.inference import predict_logits
from finetune.run_config import from_options
from plugins import RobustuneError
from plugins.bundle import load_bundle
from robustness.audit import run_audit
from robustness.config import AuditConfig

EPS = 16 / 255
BASE = {"data": "digits", "backbone": "resnet18", "weights": "none", "adapter": "full", "image_size": 16,
        "per_class": 60, "epochs": 5, "lr": 3e-3, "backbone_lr_mult": 1.0, "patience": 5,
        "adv_eps": "16/255", "adv_steps": 3, "precision": "fp32"}  # what adversarial training does, not
# which numerics --precision auto measures fastest (a bf16 choice diverged in TRADES' first epoch once)


def _robust(bundle_dir: str) -> tuple[float, float]:
    bundle = load_bundle(bundle_dir)  # type: ignore[arg-type]
    from finetune.evaluation import bundle_data, bundle_labels
    from finetune.preprocess import prepare_inputs

    _, data = bundle_data(bundle, "digits")
    x = prepare_inputs(data, bundle.meta.preprocessing)["pixels"][:120].float() / 255
    y = bundle_labels(data, bundle)[:120]
    report = run_audit(bundle.model, x, y, bundle.labels,
                       AuditConfig(attacks=("pgd",), eps=(EPS,), steps=10)).report
    return report["clean_accuracy"], report["attacks"]["pgd"][f"{EPS:.6g}"]["robust_accuracy"]


@pytest.mark.slow
def test_pgd_adversarial_training_gains_robustness(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run_training(from_options({**BASE, "out": str(tmp_path / "std")}))
    run_training(from_options({**BASE, "adversarial": "pgd", "out": str(tmp_path / "adv")}))
    clean_std, robust_std = _robust(str(tmp_path / "std"))
    clean_adv, robust_adv = _robust(str(tmp_path / "adv"))
    assert robust_adv >= robust_std + 0.10, (robust_std, robust_adv)
    assert clean_adv >= 0.5, clean_adv


def test_trades_and_linear_probe_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = from_options({**BASE, "epochs": 1, "adversarial": "trades", "out": str(tmp_path / "t")})
    assert cfg.train.adv_eps == pytest.approx(16 / 255)
    run_training(cfg)
    probe = from_options({**BASE, "epochs": 1, "adapter": "linear-probe", "adversarial": "pgd",
                          "out": str(tmp_path / "p")})
    result = run_training(probe)
    assert "feature_cache" not in result.seconds  # the backbone runs on attacked pixels instead
    bundle = load_bundle(tmp_path / "p")
    blank = {"pixels": torch.zeros(2, 3, 16, 16, dtype=torch.uint8)}
    assert predict_logits(bundle.model, blank).shape == (2, 10)


def test_adversarial_training_on_text_is_refused(tmp_path, text_csv) -> None:  # type: ignore[no-untyped-def]
    cfg = from_options({"data": f"csv:{text_csv}", "backbone": "bert", "adversarial": "pgd",
                        "out": str(tmp_path / "x")})
    with pytest.raises(RobustuneError, match="adversarial training works on image models"):
        run_training(cfg)
