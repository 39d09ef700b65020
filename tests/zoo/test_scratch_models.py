"""From-scratch models through `robustune train`: bundles that evaluate, predict and explain; their
recipes (RBM pretraining, semi-supervised GAN) and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from finetune.recipes.dbn import train_rbm
from finetune.recipes.semi_gan import feature_matching, unsupervised_loss
from plugins.bundle import load_bundle
from tests.conftest import CliResult

SMALL = ["--data", "digits", "--per-class", "30", "--test-per-class", "10", "--epochs", "2", "--quiet"]


@pytest.mark.parametrize("model", ["cnn", "rnn", "lstm", "dbn"])
def test_image_models_train_evaluate_and_predict(cli: CliResult, tmp_path: Path, model: str) -> None:
    out = tmp_path / model
    res = cli("train", "--model", model, "--out", out, *SMALL)
    assert res.code == 0, res.err
    meta = json.loads((out / "robustune.json").read_text())
    assert meta["model"]["backbone"] == model and meta["adapter"]["name"] == "scratch"
    assert meta["arch"]["image_size"] == 8  # digits keep their own 8x8 size
    assert meta["recipe"] == ("dbn" if model == "dbn" else "supervised")
    res = cli("evaluate", out, "--data", "digits", "--json")
    assert res.code == 0 and json.loads(res.out)["split"] == "holdout"


def test_text_models_train_and_predict(cli: CliResult, tmp_path: Path, text_csv: Path) -> None:
    for model, options in (("cnn", "filters=16"), ("lstm", "hidden=16,bidirectional=true,layers=2")):
        out = tmp_path / model
        res = cli("train", "--model", model, "--model-options", options, "--data", f"csv:{text_csv}",
                  "--epochs", "2", "--out", out, "--quiet")
        assert res.code == 0, res.err
        bundle = load_bundle(out)
        assert bundle.modality == "text" and (out / "tokenizer").is_dir()
        assert bundle.meta.arch["modality"] == "text"
        res = cli("predict", out, "--text", "a wonderful film", "--json")
        assert res.code == 0 and len(json.loads(res.out)[0]["top"]) == 2


def test_model_options_reach_the_architecture(tmp_path: Path) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": "digits", "model": "cnn", "model_options": "depth=2,width=8,bn=false", "per_class": 20,
            "epochs": 1, "out": str(tmp_path / "c")}
    run_training(from_options(opts))
    model = load_bundle(tmp_path / "c").model
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_rbm_cd_lowers_reconstruction_error() -> None:
    gen = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(4, 36, generator=gen) > 0.5).float()
    data = prototypes[torch.randint(0, 4, (400,), generator=gen)]
    data = (data + 0.1 * torch.rand(400, 36, generator=gen)).clamp(0, 1)
    for k in (1, 3):
        layer = torch.nn.Linear(36, 16)
        errors = train_rbm(layer, data, k=k, epochs=15, lr=0.1, batch=20, seed=0)
        assert errors[-1] < 0.5 * errors[0], (k, errors)


def test_dbn_recipe_reports_reconstruction_error_per_layer(tmp_path: Path) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": "digits", "model": "dbn", "model_options": "hidden=64-32,rbm_epochs=10,cd_k=2,rbm_lr=0.1",
            "epochs": 1, "out": str(tmp_path / "d")}
    result = run_training(from_options(opts))
    rbm = result.extra["rbm"]
    assert [(r["visible"], r["hidden"]) for r in rbm] == [(64, 64), (64, 32)]
    assert all(r["reconstruction_error"] < 0.7 * r["reconstruction_error_first"] for r in rbm), rbm
    assert load_bundle(tmp_path / "d").meta.training["rbm"] == rbm


def test_k_plus_one_loss_equals_explicit_softmax() -> None:
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(7, 5, generator=gen), torch.randn(6, 5, generator=gen)
    zero = torch.zeros(1, 1)

    def log_p_fake(logits: torch.Tensor) -> torch.Tensor:  # K real classes + a fake class with logit 0
        full = torch.cat([logits, zero.expand(len(logits), 1)], 1)
        return torch.log_softmax(full, 1)[:, -1]

    expected = -torch.log1p(-log_p_fake(real).exp()).mean() - log_p_fake(fake).mean()
    assert torch.allclose(unsupervised_loss(real, fake), expected, atol=1e-5)
    assert float(feature_matching(real, real)) == 0.0


def test_semi_gan_uses_labeled_and_unlabeled_data(tmp_path: Path) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": "digits", "model": "gan", "labeled_per_class": 5, "epochs": 2, "batch_size": 64,
            "model_options": "hidden=64-32,gen_hidden=32", "out": str(tmp_path / "g")}
    result = run_training(from_options(opts))
    assert result.config.recipe == "semi-gan"
    assert result.split_sizes["train"] == 50 and result.split_sizes["unlabeled"] > 1000
    assert result.extra["semi_gan"] == {"labeled": 50, "unlabeled": result.split_sizes["unlabeled"]}
    assert {"unsupervised_loss", "feature_matching"} <= set(result.history.epochs[0])
    bundle = load_bundle(tmp_path / "g")  # the discriminator as a K-class classifier
    assert bundle.model(torch.rand(3, 3, 8, 8)).shape == (3, 10)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--model", "gan"], "--labeled-per-class N"),
    (["--model", "dbn", "--data", "TEXT"], "takes image but data"),
    (["--model", "gan", "--data", "TEXT", "--labeled-per-class", "2"], "takes image but data"),
    (["--model", "lstm", "--image-size", "128"], "sequence of rows"),
    (["--model", "cnn", "--model-options", "depth=3,colour=red"], "no model option 'colour'"),
    (["--model", "cnn", "--model-options", "depth=deep"], "must be a int"),
    (["--model", "cnn", "--model-options", "depth"], "KEY=VALUE"),
    (["--model", "cnn", "--adapter", "linear-probe"], "trained from scratch"),
    (["--model", "cnn", "--weights", "x.pth"], "takes no --weights"),
    (["--model", "resnet18", "--weights", "none", "--model-options", "depth=2"], "for from-scratch models"),
    (["--model", "cnn", "--recipe", "semi-gan", "--labeled-per-class", "2"], "use --model gan"),
    (["--model", "cnn", "--recipe", "dbm"], "unknown recipe"),
    (["--model", "gan", "--labeled-per-class", "200"], "leaves no unlabeled"),
    (["--model", "cnn", "--backbone", "rnn"], "disagree"),
])
def test_zoo_bad_input(cli: CliResult, tmp_path: Path, text_csv: Path, args: list[str],
                       fragment: str) -> None:
    args = [f"csv:{text_csv}" if a == "TEXT" else a for a in args]
    data = [] if "--data" in args else ["--data", "digits"]
    res = cli("train", *data, *args, "--epochs", "1", "--out", tmp_path / "o", "--quiet")
    assert res.code != 0
    assert fragment in res.err and res.err.startswith("error: ") and len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.work").exists()


def test_semi_gan_keeps_each_groups_learning_rate() -> None:
    """The discriminator's optimizer takes the adapter's parameter groups at their own rates, and the
    linear decay of the second half scales each group without changing their ratio."""
    import torch
    from torch import nn

    from finetune.recipes.semi_gan import adam, decay

    backbone, head = nn.Linear(4, 3), nn.Linear(3, 2)
    groups = [{"params": list(backbone.parameters()), "lr": 1e-4, "name": "backbone"},
              {"params": list(head.parameters()), "lr": 1e-3, "name": "head"}]
    opt = adam(groups, 5e-4)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-3]
    decay(opt, 0.5)
    assert [g["lr"] for g in opt.param_groups] == [5e-5, 5e-4]
    restored = adam(groups, 5e-4)
    restored.load_state_dict(opt.state_dict())  # a resumed run decays from the same starting rates
    decay(restored, 1.0)
    assert [g["lr"] for g in restored.param_groups] == [1e-4, 1e-3]
    x = torch.rand(5, 4)
    head(backbone(x)).sum().backward()
    before = [p.detach().clone() for p in backbone.parameters()]
    restored.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, backbone.parameters(), strict=True))
