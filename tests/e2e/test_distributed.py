"""``robustune train --nproc N``: data-parallel training (DDP, gloo on CPU) in N processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from finetune.driver import TrainResult, run_training
from finetune.run_config import from_options
from plugins.bundle import load_bundle
from plugins.jsonio import read_json
from tests.conftest import REPO, CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]
pytestmark = pytest.mark.slow


def _train(out: Path, **opts: object) -> TrainResult:
    # fp32 in both: ranks compute in fp32 (auto could pick bf16 for one process alone)
    return run_training(from_options({"data": "digits", "backbone": "cnn", "epochs": 3, "batch_size": 32,
                                      "precision": "fp32", **opts, "out": str(out)}))


def test_two_processes_match_one(tmp_path: Path) -> None:
    """Same data, same global batch: holdout accuracy within 1 point, loss curves close, same bundle."""
    one = _train(tmp_path / "one")
    two = _train(tmp_path / "two", nproc=2)
    acc1, acc2 = one.metrics["test"]["accuracy"], two.metrics["test"]["accuracy"]
    assert acc1 > 0.9 and abs(acc1 - acc2) <= 0.01, (acc1, acc2)
    for a, b in zip(one.history.epochs, two.history.epochs, strict=True):
        assert abs(a["train_loss"] - b["train_loss"]) < 0.1 * a["train_loss"], (a, b)
        assert abs(a["val_loss"] - b["val_loss"]) < 0.1, (a, b)
    bundle = load_bundle(two.bundle)  # loads like any other bundle
    meta = read_json(two.bundle / "robustune.json", "")
    assert meta["training"]["nproc"] == 2
    assert meta["numerics"]["training"]["precision"] == "fp32"  # every rank computes alike
    assert not (tmp_path / "two.work").exists()
    pixels = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8).float() / 255
    assert bundle.model.eval()(pixels).shape == (4, 10)


def test_refusals_are_one_line(cli: Cli, tmp_path: Path) -> None:
    """A recipe that trains in one process, adversarial training, a batch smaller than the world."""
    out = str(tmp_path / "b")
    assert_error(cli("train", "--data", "digits", "--model", "resnet18", "--weights", "none", "--out", out,
                     "--nproc", "2", "--recipe", "lbfgs", "--image-size", "32"),
                 "recipe lbfgs trains in one process; drop --nproc")
    assert_error(cli("train", "--data", "digits", "--model", "cnn", "--out", out, "--nproc", "2",
                     "--adversarial", "pgd"), "--adversarial runs in one process: drop --nproc")
    assert_error(cli("train", "--data", "digits", "--model", "cnn", "--out", out, "--nproc", "4",
                     "--batch-size", "2"), "--batch-size must be at least the 4 training processes")
    # errors raised inside a rank (whatever their constructor) cross back to the launcher as one line
    assert_error(cli("train", "--data", "digits", "--model", "resnet18", "--weights", "none", "--out", out,
                     "--nproc", "2", "--adapter", "gradual", "--image-size", "32"),
                 "adapter gradual unfreezes layers as the epochs pass")
    assert_error(cli("train", "--data", "digits", "--model", "cnn", "--out", out, "--nproc", "2",
                     "--adapter-options", "no_such=1"), "no_such")
    assert not Path(out).exists() and not Path(out + ".work").exists()


def _ranks(parent: int) -> list[int]:
    """The spawned rank processes of ``parent`` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_resume_after_a_rank_is_killed(tmp_path: Path) -> None:
    """SIGKILL of one rank stops the run with one line that says how to resume; --resume finishes it."""
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "robustune", "train", "--data", "digits", "--model", "cnn", "--epochs", "5",
           "--patience", "5", "--nproc", "2", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ})
    checkpoint = tmp_path / "b.work" / "ckpt" / "checkpoint.json"
    deadline = time.monotonic() + 240
    while not checkpoint.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert checkpoint.is_file(), proc.communicate()[1] if proc.poll() is not None else "no checkpoint in time"
    ranks = _ranks(proc.pid)
    assert len(ranks) == 2, ranks
    os.kill(ranks[-1], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "rank 1 was killed (SIGKILL)" in lines[0], err
    assert f"--resume {out}" in lines[0], err
    assert not out.exists()
    kept = read_json(checkpoint, "")["state"]["epoch"]
    assert kept >= 1

    done = subprocess.run([sys.executable, "-m", "robustune", "train", "--resume", str(out)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming after epoch {kept}" in done.stdout + done.stderr
    meta = read_json(out / "robustune.json", "")
    epochs = [e["epoch"] for e in meta["training"]["history"]]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) == 5, epochs
    assert meta["metrics"]["test"]["accuracy"] > 0.9
    load_bundle(out)
