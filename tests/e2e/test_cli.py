"""The CLI as a user drives it: train -> evaluate -> predict, config files, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult

Cli = Callable[..., CliResult]


def test_image_train_evaluate_predict(cli: Cli, tmp_path: Path, image_folder: Path) -> None:
    out = tmp_path / "stripes"
    r = cli("train", "--data", f"imagefolder:{image_folder}", "--backbone", "resnet18", "--weights",
            "none", "--adapter", "full", "--image-size", "24", "--epochs", "6", "--lr", "3e-3",
            "--val-fraction", "0.25", "--test-fraction", "0.25", "--out", out, "--quiet")
    assert r.code == 0, r.err
    assert "bundle:" in r.out and "test" in r.out
    meta = json.loads((out / "robustune.json").read_text())
    assert meta["labels"] == ["horizontal", "vertical"]
    assert meta["preprocessing"]["input_size"] == [3, 24, 24]
    assert set(meta["metrics"]["test"]) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert meta["metrics"]["test"]["accuracy"] >= 0.8  # stripes are easy
    assert not (tmp_path / "stripes.work").exists()
    ev = cli("evaluate", out, "--data", f"imagefolder:{image_folder}", "--json", "--unfamiliar-data",
             "digits")
    assert ev.code == 0, ev.err
    got = json.loads(ev.out)
    assert got["split"] == "holdout"
    assert got["accuracy"] == pytest.approx(meta["metrics"]["test"]["accuracy"])
    calibration, unfamiliar = got["trust"]["calibration"], got["trust"]["unfamiliar"]
    assert 0 <= calibration["ece"] <= 1 and calibration["temperature"] == meta["trust"]["calibration"][
        "temperature"]
    assert sum(calibration["reliability"]["count"]) == meta["data"]["splits"]["test"]
    assert unfamiliar["against"] == "digits" and unfamiliar["n"] == 1797 and 0 <= unfamiliar["auroc"] <= 1
    assert "AUROC" in cli("evaluate", out, "--data", f"imagefolder:{image_folder}", "--unfamiliar-data",
                          "digits").out
    files = sorted((image_folder / "vertical").iterdir())[:2]
    pr = cli("predict", out, *files, "--json", "--top-k", "2")
    assert pr.code == 0, pr.err
    rows = json.loads(pr.out)
    assert len(rows) == 2 and len(rows[0]["top"]) == 2
    assert sum(t["probability"] for t in rows[0]["top"]) == pytest.approx(1.0, abs=1e-5)
    # every prediction carries its trust: calibrated (same top label as the raw one), a set, a score
    trust = meta["trust"]
    assert trust["calibration"]["nll_after"] <= trust["calibration"]["nll_before"] + 1e-9
    kept = len(trust["conformal"]["scores"])  # half of this small validation split
    for row in rows:
        assert row["calibrated"] and row["top"][0]["label"] == row["raw_top"][0]["label"]
        assert isinstance(row["unfamiliar"], bool) and isinstance(row["score"], float)
        assert ("set" in row) == (kept >= 9)  # 90% needs 9 calibration examples
        assert "set" in row or f"needs at least 9 calibration examples and this bundle kept {kept}" in row[
            "set_note"]
    half = json.loads(cli("predict", out, *files, "--json", "--coverage", "0.5").out)
    assert all(h["top"][0]["label"] in h["set"] and len(h["set"]) <= 2 for h in half)
    too_sure = cli("predict", out, *files, "--coverage", "0.999")
    assert too_sure.code == 2 and "calibration examples" in too_sure.err


def test_text_linear_probe_from_config_file(cli: Cli, tmp_path: Path, text_csv: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        f"data: csv:{text_csv}\nbackbone: bert\nadapter: linear-probe\nout: {tmp_path / 'txt'}\n"
        "train:\n  epochs: 30\n  lr: 0.01\n  patience: 30\nmax-length: 32\n"
    )
    r = cli("train", "--config", config, "--quiet")
    assert r.code == 0, r.err
    meta = json.loads((tmp_path / "txt" / "robustune.json").read_text())
    assert meta["training"]["epochs"] == 30 and meta["preprocessing"]["max_length"] == 32
    assert (tmp_path / "txt" / "tokenizer").is_dir()
    assert meta["metrics"]["val"]["accuracy"] >= 0.75  # MiniLM separates these sentiments
    pr = cli("predict", tmp_path / "txt", "--text", "a wonderful and brilliant film", "--text",
             "a boring, awful mess", "--json")
    assert pr.code == 0, pr.err
    rows = json.loads(pr.out)
    assert [row["top"][0]["label"] for row in rows] == ["pos", "neg"]


def test_plugins_lists_everything(cli: Cli) -> None:
    r = cli("plugins")
    assert r.code == 0
    for name in ("backbone:", "efficientnet_lite0", "linear-probe", "rotten-tomatoes", "csv"):
        assert name in r.out


TRAIN = ["train", "--data", "digits", "--backbone", "resnet18", "--weights", "none", "--adapter",
         "full", "--image-size", "16", "--per-class", "60", "--epochs", "6", "--patience", "6",
         "--augment", "shift", "--seed", "7", "--precision", "fp32", "--quiet"]


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "robustune", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _checkpoint_epoch(work: Path) -> int:
    meta = work / "ckpt" / "checkpoint.json"
    try:
        return int(json.loads(meta.read_text())["state"]["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    proc = _spawn(*TRAIN, "--out", str(killed))
    uninterrupted = _spawn(*TRAIN, "--out", str(straight))  # alongside: one thread each, two cores
    deadline = time.time() + 240
    while _checkpoint_epoch(tmp_path / "killed.work") < 2:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not killed.exists()  # never a half-written bundle
    resumed = subprocess.run([sys.executable, "-m", "robustune", "train", "--resume", str(killed),
                              "--quiet"], cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr
    assert uninterrupted.wait() == 0
    a = json.loads((killed / "robustune.json").read_text())
    b = json.loads((straight / "robustune.json").read_text())
    assert a["metrics"] == b["metrics"]
    assert a["training"]["history"] == b["training"]["history"]
    assert (killed / "model.safetensors").read_bytes() == (straight / "model.safetensors").read_bytes()


def test_resume_without_a_run_is_an_error(cli: Cli, tmp_path: Path) -> None:
    r = cli("train", "--resume", tmp_path / "nothing")
    assert r.code == 2 and "nothing to resume" in r.err


@pytest.mark.slow
def test_demo_quick(cli: Cli, tmp_path: Path) -> None:
    r = cli("demo", "--out", tmp_path / "demo", "--quick")
    assert r.code == 0, r.err
    assert "robust accuracy" in r.out and "word-level" in r.out
    for name in ("fashion-mnist-efficientnet", "rotten-tomatoes-minilm"):
        job = tmp_path / "demo" / name
        for part in ("model/robustune.json", "audit/audit.json", "report.html"):
            assert (job / part).is_file(), part
    assert r.out.count("report.html") >= 2
    again = cli("demo", "--out", tmp_path / "demo", "--quick")  # finished steps are kept
    assert again.code == 0, again.err
    assert again.out.count("done earlier") == 8  # train, labels, audit and report of each
