"""``robustune audit`` as a user runs it, and its bad inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def digits_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    out = tmp_path_factory.mktemp("audit") / "digits"
    cfg = from_options({"data": "digits", "backbone": "resnet18", "weights": "none", "adapter": "full",
                        "image_size": 16, "per_class": 40, "epochs": 4, "lr": 3e-3, "precision": "fp32",
                        "out": str(out)})
    run_training(cfg)
    return out


def test_audit_writes_report_curve_and_examples(cli: Cli, digits_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    r = cli("audit", digits_bundle, "--data", "digits", "--attacks", "fgsm,pgd", "--eps", "2/255,8/255",
            "--n", "24", "--steps", "3", "--out", out)
    assert r.code == 0, r.err
    assert "worst case" in r.out and "2/255" in r.out
    report = json.loads((out / "audit.json").read_text())
    assert report["n"] == 24 and set(report["attacks"]) == {"fgsm", "pgd"}
    for key in ("clean_accuracy", "worst_case", "flags", "seconds"):
        assert key in report
    numerics = report["numerics"]  # measured for input gradients; fp32 is always a candidate
    assert numerics["purpose"] == "gradient" and numerics["precision"] == "auto"
    assert numerics["agreement_vs_fp32"][numerics["choice"]] >= 0.995
    assert (out / "robustness_curve.png").stat().st_size > 1000
    assert (out / "robustness_curve.svg").read_text().startswith("<?xml")
    ex = load_file(str(out / "adversarial.safetensors"))
    assert ex["x_adv"].shape == ex["x"].shape == (24, 3, 16, 16)
    assert float((ex["x_adv"] - ex["x"]).abs().max()) <= 8 / 255 + 1e-6
    again = cli("audit", digits_bundle, "--data", "digits", "--n", "24", "--out", out)
    assert_error(again, "already exists", "--overwrite")


def test_a_short_memory_lowers_the_batch_not_the_numbers(cli: Cli, digits_bundle: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for a few examples only (a fake limit), the audit picks a smaller batch and finds the
    same robust accuracy and the same adversarial examples as at batch 64."""
    args = ("--data", "digits", "--eps", "2/255,8/255", "--n", "80", "--steps", "4", "--precision", "fp32")
    r = cli("audit", digits_bundle, *args, "--batch-size", "64", "--out", tmp_path / "at64")
    assert r.code == 0, r.err
    monkeypatch.setenv("ROBUSTUNE_MEMORY_LIMIT_MB", "2")
    r = cli("audit", digits_bundle, *args, "--out", tmp_path / "probed")
    assert r.code == 0, r.err
    assert "lowered from 64" in r.out  # the table's caption says the batch and why
    at64, probed = (json.loads((tmp_path / d / "audit.json").read_text()) for d in ("at64", "probed"))
    assert at64["batch"] == {"size": 64, "why": "given", "device": "cpu"}
    assert 1 <= probed["batch"]["size"] < 64 and "lowered from 64" in probed["batch"]["why"]
    for attack in ("fgsm", "pgd"):
        for eps, stats in at64["attacks"][attack].items():
            assert probed["attacks"][attack][eps]["robust_accuracy"] == stats["robust_accuracy"]
    a, b = (load_file(str(tmp_path / d / "adversarial.safetensors")) for d in ("at64", "probed"))
    assert torch.allclose(a["x_adv"], b["x_adv"], atol=1e-5)


def test_audit_text_bundle(cli: Cli, text_bundle: Path, text_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    r = cli("audit", text_bundle, "--data", f"csv:{text_csv}", "--split", "all", "--n", "6", "--steps", "3",
            "--eps", "0.05,0.2", "--out", out)
    assert r.code == 0, r.err
    assert "embedding-pgd" in r.out and "word-level" in r.out and "queries" in r.out
    report = json.loads((out / "audit.json").read_text())
    assert report["modality"] == "text" and report["eps"] == [0.05, 0.2]
    assert set(report["attacks"]) == {"embedding-pgd", "word-level"}
    rows = json.loads((out / "adversarial_texts.json").read_text())
    assert len(rows) == 6 and {"text", "adversarial", "words_changed", "queries"} <= set(rows[0])
    assert (out / "robustness_curve.png").stat().st_size > 1000


def test_audit_bad_inputs(cli: Cli, digits_bundle: Path, text_bundle: Path, tmp_path: Path,
                          text_csv: Path) -> None:
    base = ["audit", digits_bundle, "--data", "digits", "--out", tmp_path / "a"]
    assert_error(cli(*base, "--eps", "0"), "must all be in (0, 1]")
    assert_error(cli(*base, "--eps", "2"), "must all be in (0, 1]")
    assert_error(cli(*base, "--eps", "x/255"), "cannot read the number 'x/255'")
    assert_error(cli(*base, "--n", "100000"), "--n 100000 is larger than the 359 examples")
    assert_error(cli(*base, "--attacks", "pgdd"), "did you mean 'pgd'")
    assert_error(cli(*base, "--attacks", "word-level"), "works on text models but this is an image model",
                 "--attacks fgsm,pgd")
    assert_error(cli("audit", text_bundle, "--data", f"csv:{text_csv}", "--attacks", "pgd", "--out",
                     tmp_path / "b"), "works on image models but this is a text model",
                 "--attacks embedding-pgd,word-level")
    assert_error(cli("audit", text_bundle, "--data", "digits", "--out", tmp_path / "c"),
                 "is a text model but --data digits holds image", "pass text data")
