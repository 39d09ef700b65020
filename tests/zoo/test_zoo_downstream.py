"""From-scratch bundles go through the audit, explanations and report like pretrained ones."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CliResult


def test_cnn_digits_bundle_audits_explains_and_reports(cli: CliResult, tmp_path: Path) -> None:
    out = tmp_path / "job"
    res = cli("run", "--data", "digits", "--model", "cnn", "--per-class", "40", "--epochs", "3",
              "--lr", "3e-3", "--attacks", "fgsm,pgd", "--eps", "2/255,8/255", "--n", "40", "--out", out,
              "--quiet")
    assert res.code == 0, res.err
    audit = json.loads((out / "audit" / "audit.json").read_text())
    assert audit["clean_accuracy"] > 0.5 and (out / "report.html").stat().st_size > 10_000
    from PIL import Image

    Image.new("L", (8, 8), 200).save(tmp_path / "one.png")
    res = cli("explain", out / "model", tmp_path / "one.png", "--method", "gradcam", "--out", tmp_path / "ex")
    assert res.code == 0, res.err
    assert json.loads((tmp_path / "ex" / "explanations.json").read_text())["method"] == "gradcam"


def test_lstm_text_bundle_takes_text_attacks_and_integrated_gradients(cli: CliResult, tmp_path: Path,
                                                                       text_csv: Path) -> None:
    bundle = tmp_path / "lstm"
    res = cli("train", "--model", "lstm", "--data", f"csv:{text_csv}", "--epochs", "4", "--lr", "3e-3",
              "--out", bundle, "--quiet")
    assert res.code == 0, res.err
    res = cli("audit", bundle, "--data", f"csv:{text_csv}", "--eps", "0.1,0.2", "--n", "8")
    assert res.code == 0, res.err
    report = json.loads((bundle / "audit" / "audit.json").read_text())
    assert set(report["attacks"]) == {"embedding-pgd", "word-level"} and report["modality"] == "text"
    res = cli("explain", bundle, "--text", "a wonderful, moving film", "--out", tmp_path / "ex")
    assert res.code == 0 and "top words" in res.out, res.err
    res = cli("explain", bundle, "--text", "a film", "--method", "attention-rollout",
              "--out", tmp_path / "ex2")
    assert res.code != 0 and "attention" in res.err
