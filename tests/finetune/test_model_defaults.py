"""Per-model training defaults: declared by the model plugins, overridden by flags, printed, recorded."""

from __future__ import annotations

import json
from pathlib import Path

from finetune.config import TrainConfig
from finetune.model_defaults import model_defaults, pick
from finetune.run_config import from_options
from plugins.backbones.cnn import ImageCNN, KimCNN


def _cfg(**options: object):  # type: ignore[no-untyped-def]
    return from_options({"out": "unused", **options})


def test_a_model_without_flags_takes_its_own_settings() -> None:
    cfg = _cfg(data="digits", model="cnn")
    assert cfg.model_defaults == ImageCNN.TRAINING["*"]
    assert (cfg.train.epochs, cfg.train.lr, cfg.train.label_smoothing) == (40, 3e-3, 0.1)
    assert cfg.train.stop_patience() == 15
    text = _cfg(data="rotten-tomatoes", model="cnn")  # the same plugin on texts: Kim's CNN settings
    assert text.model_defaults == KimCNN.TRAINING["*"] and text.train.epochs == 12
    lstm = _cfg(data="digits", model="lstm")
    assert lstm.train.epochs == 40 and lstm.train.patience == 0 and lstm.train.stop_patience() == 10


def test_flags_and_config_files_override_and_generic_turns_them_off() -> None:
    cfg = _cfg(data="digits", model="cnn", epochs=5, lr=0.01)
    assert (cfg.train.epochs, cfg.train.lr) == (5, 0.01)
    assert "epochs" not in cfg.model_defaults and "lr" not in cfg.model_defaults
    assert "patience" not in cfg.model_defaults  # picked for 40 epochs: it scales with the user's instead
    assert cfg.train.stop_patience() == 3
    assert _cfg(data="digits", model="cnn", **{"label-smoothing": 0.0}).train.label_smoothing == 0.0
    generic = _cfg(data="digits", model="cnn", defaults="generic")
    assert generic.model_defaults == {} and generic.train == TrainConfig()


def test_pretrained_backbones_declare_per_adapter() -> None:
    full = _cfg(data="fashion-mnist", model="efficientnet_lite0", adapter="full")
    assert full.backbone_config.image_size == 128 and full.train.augment == "shift,flip"
    assert full.adapter_config.backbone_lr_mult == 0.5
    probe = _cfg(data="fashion-mnist", model="efficientnet_lite0")  # linear probe: solved by L-BFGS
    assert probe.model_defaults == {} and probe.backbone_config.image_size is None
    bert = _cfg(data="rotten-tomatoes", model="bert", adapter="full")
    assert (bert.train.epochs, bert.adapter_config.backbone_lr_mult) == (4, 0.05)
    assert model_defaults("resnet18", "full", "image") == {}  # not measured: robustune's generic settings


def test_more_specific_keys_win() -> None:
    table = {"*/*": {"epochs": 5, "lr": 1.0}, "*/image": {"lr": 2.0}, "full/*": {"epochs": 7},
             "full/image": {"batch_size": 8}, "full/text": {"batch_size": 99}}
    assert pick(table, "full", "image") == {"epochs": 7, "lr": 2.0, "batch_size": 8}
    assert pick(table, "partial", None) == {"epochs": 5, "lr": 1.0}


def test_patience_scales_with_the_epochs() -> None:
    assert TrainConfig(epochs=10).stop_patience() == 3
    assert TrainConfig(epochs=40).stop_patience() == 10
    assert TrainConfig(epochs=40, patience=7).stop_patience() == 7


def test_train_prints_and_records_the_defaults_and_numerics(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b"
    result = cli("train", "--data", "digits", "--model", "cnn", "--epochs", "2", "--out", out)
    assert result.code == 0, result.err
    assert "cnn's training defaults for scratch: lr 0.003, label_smoothing 0.1" in result.out + result.err
    assert "numerics for training:" in result.out + result.err
    meta = json.loads((out / "robustune.json").read_text())
    assert meta["training"]["defaults"] == {"source": "model", "model": {"lr": 0.003, "label_smoothing": 0.1}}
    assert meta["training"]["patience"] == 3 and meta["training"]["epochs"] == 2
    assert set(meta["numerics"]) == {"training", "evaluation"}
    assert meta["numerics"]["training"]["purpose"] == "train"
    chosen = meta["numerics"]["evaluation"]
    assert chosen["agreement_vs_fp32"][chosen["choice"]] >= 0.995
    # every recommended setting given: said so, not "recommends none"
    result = cli("train", "--data", "digits", "--model", "cnn", "--epochs", "1", "--lr", "0.01",
                 "--label-smoothing", "0", "--out", tmp_path / "c")
    said = "cnn's training defaults for scratch: none taken, your options set them all"
    assert result.code == 0 and said in result.out + result.err


def test_tune_starts_from_the_model_defaults() -> None:
    from finetune.selection.tune import first_trial

    options = {"data": "digits", "backbone": "cnn"}
    assert first_trial(options, 40) == {"epochs": 40, "lr": 3e-3, "weight_decay": 0.01}
    assert first_trial(options, 10)["epochs"] == 10  # within --max-epochs
    assert first_trial({**options, "lr": 0.5}, 10)["lr"] == 1e-2  # clipped to the search space


def test_recommend_estimates_a_solved_probe_by_its_solver() -> None:
    import torch

    from finetune.selection.recommend import lbfgs_seconds

    feats = torch.randn(32, 64)
    small, large = lbfgs_seconds(feats, 200, 3), lbfgs_seconds(feats, 20000, 3)
    assert 0 < small < large
