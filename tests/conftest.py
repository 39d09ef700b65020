"""Shared fixtures: offline hub, small generated image folders and CSVs, a CLI runner."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# measured numerics choices (--precision auto) go to a cache of this test session, not the user's
os.environ["ROBUSTUNE_CACHE_DIR"] = tempfile.mkdtemp(prefix="robustune-test-cache-")
# the cores shared among pytest-xdist's workers: each worker (and every command it starts, through
# OMP_NUM_THREADS) computes on its share, as a process on an idle machine of that size would; two
# workers of two threads each on two cores spin-wait at every operator's barrier and run several times
# slower than one thread each. In-process runs and the commands they compare with use the same count.
THREADS = max(1, (os.cpu_count() or 2) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ["OMP_NUM_THREADS"] = str(THREADS)
torch.set_num_threads(THREADS)

REPO = Path(__file__).resolve().parents[1]


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder ``name``, made by ``build(folder)`` once per test session however many pytest-xdist
    workers need it: the first takes its lock and builds, the others wait and reuse it (a training is
    never repeated)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    root.mkdir(parents=True, exist_ok=True)
    out, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            build(out)
            done.touch()
    return out


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``robustune ARGS`` in-process, as the console script does."""
    from robustune.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err  # no input may end in a traceback
        return CliResult(code, captured.out, captured.err)

    return run


def run_subprocess(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> CliResult:
    """Run ``robustune ARGS`` as a separate process."""
    proc = subprocess.run(
        [sys.executable, "-m", "robustune", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout, cwd=REPO,
    )
    assert "Traceback" not in proc.stderr, proc.stderr  # no input may end in a traceback
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def stripes(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A noisy image of horizontal (0) or vertical (1) stripes. Shape: (size, size) uint8."""
    period = int(rng.integers(3, 6))
    phase = int(rng.integers(0, period))
    line = ((np.arange(size) + phase) % period < period // 2 + 1).astype(np.float32)
    img = np.tile(line[:, None], (1, size)) if kind == 0 else np.tile(line[None, :], (size, 1))
    img = 0.7 * img + 0.3 * rng.random((size, size))
    return (img * 255).astype(np.uint8)


def make_image_folder(root: Path, per_class: int = 20, size: int = 24, seed: int = 0) -> Path:
    """Two classes of striped images saved in mixed formats and modes."""
    rng = np.random.default_rng(seed)
    formats = [("png", "L"), ("jpg", "RGB"), ("bmp", "RGB"), ("gif", "P"), ("webp", "RGB"),
               ("png", "RGBA")]
    for kind, name in enumerate(["horizontal", "vertical"]):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            ext, mode = formats[i % len(formats)]
            img = Image.fromarray(stripes(kind, size, rng)).convert(mode)
            img.save(folder / f"{i:03d}.{ext}", quality=95) if ext == "jpg" else img.save(
                folder / f"{i:03d}.{ext}")
    return root


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated two-class image folder (shared, read-only; one path for every worker, so a
    bundle trained on it names the same source everywhere)."""
    return built_once(tmp_path_factory, "stripes", make_image_folder)


POSITIVE = ["a wonderful, moving film", "great acting and a great story", "brilliant and funny",
            "I loved every minute", "a delightful surprise", "superb, warm and clever"]
NEGATIVE = ["a dull, boring mess", "terrible acting and a silly plot", "awful and tedious",
            "I hated every minute", "a tiresome waste of time", "clumsy, flat and lifeless"]


def write_csv(path: Path, repeat: int = 4, text_col: str = "text", label_col: str = "label") -> Path:
    """A small sentiment CSV with real sentences."""
    lines = [f"{text_col},{label_col}"]
    for r in range(repeat):
        lines += [f'"{t} ({r})",pos' for t in POSITIVE] + [f'"{t} ({r})",neg' for t in NEGATIVE]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def text_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated sentiment CSV (shared, read-only; one path for every worker)."""
    return built_once(tmp_path_factory, "reviews", _csv_in) / "reviews.csv"


def _csv_in(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_csv(folder / "reviews.csv")


@pytest.fixture(scope="session")
def stripes_bundle(tmp_path_factory: pytest.TempPathFactory, image_folder: Path) -> Path:
    """A ResNet-18 bundle trained briefly on the striped image folder at 24 px (shared, read-only)."""
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": f"imagefolder:{image_folder}", "backbone": "resnet18", "weights": "none",
            "adapter": "full", "image_size": 24, "epochs": 3, "lr": 3e-3}
    return built_once(tmp_path_factory, "stripes-resnet18",
                      lambda out: run_training(from_options({**opts, "out": str(out)})))


@pytest.fixture(scope="session")
def text_bundle(tmp_path_factory: pytest.TempPathFactory, text_csv: Path) -> Path:
    """A MiniLM linear-probe bundle on the generated sentiment CSV (shared, read-only)."""
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": f"csv:{text_csv}", "backbone": "bert", "adapter": "linear-probe", "epochs": 20,
            "lr": 3e-2}
    return built_once(tmp_path_factory, "reviews-minilm",
                      lambda out: run_training(from_options({**opts, "out": str(out)})))


@pytest.fixture(scope="session")
def digits_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A from-scratch CNN bundle trained on digits (about 0.95 holdout accuracy; shared, read-only)."""
    from finetune.driver import run_training
    from finetune.run_config import from_options

    opts = {"data": "digits", "backbone": "cnn", "epochs": 6, "lr": 3e-3}
    return built_once(tmp_path_factory, "digits-cnn",
                      lambda out: run_training(from_options({**opts, "out": str(out)})))
