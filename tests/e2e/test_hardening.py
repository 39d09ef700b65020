"""The hardening issue, item by item, through the CLI: exit code, one line, nothing lost or left behind.

Every CLI call in the suite also fails on the word "Traceback" in stderr (see ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, CliResult, make_image_folder, run_subprocess, write_csv
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]
CNN = ["--model", "cnn", "--epochs", "1", "--per-class", "10", "--quiet"]


def leftovers(folder: Path) -> list[str]:
    """Temporary names a write can leave beside its output."""
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name
                  or p.name.endswith(".lock"))


# 1. --overwrite never deletes what robustune did not write, nor an input; a second writer is refused


def test_overwrite_refuses_a_folder_holding_the_input_data(cli: Cli, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    data = make_image_folder(proj / "data", per_class=6)
    before = sorted(p.relative_to(proj) for p in proj.rglob("*"))
    r = cli("train", "--data", f"imagefolder:{data}", *CNN, "--out", proj, "--overwrite")
    assert_error(r, "--overwrite refused", "an input of this command", "nothing was deleted")
    assert sorted(p.relative_to(proj) for p in proj.rglob("*")) == before


def test_audit_into_its_own_bundle_is_refused(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(digits_cnn, bundle)
    weights = (bundle / "model.safetensors").read_bytes()
    r = cli("audit", bundle, "--data", "digits", "--out", bundle, "--overwrite", "--n", "5")
    assert_error(r, "--overwrite refused", "is an input")
    assert (bundle / "model.safetensors").read_bytes() == weights


def test_overwrite_refuses_our_folder_with_a_foreign_file(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert cli("train", "--data", "digits", *CNN, "--out", out).code == 0
    (out / "notes.txt").write_text("mine")
    assert_error(cli("train", "--data", "digits", *CNN, "--out", out, "--overwrite"),
                 "holds notes.txt, which robustune did not write")
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    assert cli("audit", out, "--data", "digits", "--n", "5", "--attacks", "fgsm").code == 0
    again = cli("train", "--data", "digits", *CNN, "--out", out, "--overwrite")
    assert again.code == 0, again.err  # a nested audit folder is robustune's too
    assert leftovers(tmp_path) == []


def test_second_writer_gets_in_use(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    script = ("import sys\nfrom pathlib import Path\nfrom plugins.atomic import output_lock\n"
              f"with output_lock(Path({str(out)!r})):\n    print('held', flush=True)\n    sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert_error(cli("train", "--data", "digits", *CNN, "--out", out, "--overwrite"),
                     "is in use by another robustune process")
        assert not out.exists()
    finally:
        holder.communicate("", timeout=30)
    assert cli("train", "--data", "digits", *CNN, "--out", out).code == 0  # the lock went with its holder
    assert leftovers(tmp_path) == []


# 2. Ctrl-C prints "interrupted", exits 130 and leaves a resumable work folder


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def interruptible(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    """A command that takes Ctrl-C as from a terminal, killed if the test fails. A shell's background job
    (``make -j``, a CI runner) may start with SIGINT ignored, which a child inherits and Python then
    leaves alone: its SIGINT is set back to the default first."""
    proc = subprocess.Popen(args, cwd=REPO, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            preexec_fn=_default_sigint, **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_ctrl_c_exits_130_and_resumes(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    ckpt = Path(f"{out}.work") / "ckpt" / "checkpoint.json"
    with interruptible([sys.executable, "-m", "robustune", "train", "--data", "digits", "--model", "cnn",
                        "--epochs", "12", "--patience", "50", "--quiet", "--out", str(out)],
                       stderr=subprocess.PIPE) as proc:
        deadline = time.time() + 240
        while not ckpt.is_file() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: interrupted") and "--resume" in err
    assert not out.exists() and ckpt.is_file()
    r = cli("train", "--resume", out, "--quiet")
    assert r.code == 0, r.err
    assert (out / "model.safetensors").is_file() and not Path(f"{out}.work").exists()


def test_ctrl_c_during_an_audit(tmp_path: Path, digits_cnn: Path) -> None:
    out = tmp_path / "audit"
    lock = tmp_path / ".audit.lock"
    with interruptible([sys.executable, "-m", "robustune", "audit", str(digits_cnn), "--data", "digits",
                        "--attacks", "pgd", "--steps", "500", "--n", "300", "--out", str(out)],
                       stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc:
        deadline = time.time() + 120
        while not lock.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(2)  # into the attacks
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted", err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []  # no half-written audit, no lock


@pytest.mark.parametrize("when", ["0.2s", "2s", "first epoch"])
def test_ctrl_c_at_any_moment_is_one_line(tmp_path: Path, when: str) -> None:
    """Ctrl-C while the command is still starting (0.2 s: its imports), while it loads (2 s) and during
    the first epoch: always one line and exit 130, and nothing left behind."""
    out = tmp_path / "o"
    command = [str(Path(sys.executable).parent / "robustune"), "train", "--data", "digits", "--model", "cnn",
               "--epochs", "50", "--patience", "50", "--batch-size", "4", "--quiet", "--out", str(out)]
    with interruptible(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as proc:
        if when == "first epoch":  # the run config is written once every check passed, just before epoch 1
            run_file = Path(f"{out}.work") / "run.json"
            deadline = time.time() + 120
            while not run_file.is_file() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.02)
            assert run_file.is_file()
        else:
            time.sleep(float(when.removesuffix("s")))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 130 and len(lines) == 1 and lines[0].startswith("error: interrupted"), err
    kept = "the last finished epoch is kept" in err  # a slow machine may be past epoch 1: resumable
    assert not out.exists() and Path(f"{out}.work").exists() == kept, err


SLOW_MODULE = """
import time
time.sleep(1.5)  # an import in progress, as torch's is for seconds on a loaded machine
import pathlib
pathlib.Path(__file__).with_name("imported").write_text("whole")
"""
WAIT_FOR_IT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from robustune.interrupts import defer_during_imports
defer_during_imports()
print("ready", flush=True)
try:
    import slow_module
    time.sleep(30)
except KeyboardInterrupt:
    print("interrupted after the import", flush=True)
"""


def test_ctrl_c_inside_an_import_waits_for_it_to_finish(tmp_path: Path) -> None:
    """A Ctrl-C that lands inside an import is raised once the import has finished (a half-imported numpy
    recursed, a half-initialised torch aborted the process), and at once elsewhere."""
    (tmp_path / "slow_module.py").write_text(SLOW_MODULE)
    with interruptible([sys.executable, "-c", WAIT_FOR_IT, str(tmp_path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.4)  # inside the import's 1.5 s
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "interrupted after the import", (out, err)
    assert (tmp_path / "imported").read_text() == "whole"  # the module ran to its end
    assert time.monotonic() - start < 5  # and the interrupt came right after, not after the 30 s sleep


# 3. usage errors: one line plus typer's hint, exit 2 (see also test_usage_errors_of_every_command)


@pytest.mark.parametrize(("args", "fragment"), [
    (["trian"], "No such command 'trian'"),
    (["train", "--lr", "abc"], "Invalid value for '--lr'"),
    (["predict"], "Missing argument 'bundle'"),
    (["audit", "x", "--data", "digits", "--n", "many"], "Invalid value for '--n'"),
])
def test_usage_errors(cli: Cli, args: list[str], fragment: str) -> None:
    r = cli(*args)
    lines = r.err.strip().splitlines()
    assert r.code == 2 and len(lines) == 2, r.err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert lines[1].startswith("Try 'robustune") and lines[1].endswith("--help' for help."), lines[1]


def test_bare_command_prints_help(cli: Cli) -> None:
    r = cli()
    assert r.code == 0 and "Usage: robustune" in r.out and "train" in r.out


# 4. silent wrong results


def test_non_finite_or_huge_lr_refused(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert_error(cli("train", "--data", "digits", *CNN, "--out", out, "--lr", "inf"),
                 "--lr is inf, expected a finite number")
    assert_error(cli("train", "--data", "digits", *CNN, "--out", out, "--lr", "1e38"), "in (0, 1e+06]")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("per_class", "fragment"), [
    ("50", "the loss became nan in epoch 1"),  # several steps: the loss itself turns NaN
    ("10", "the trained weights hold NaN or infinite values"),  # one step: only the statistics blow up
])
def test_divergence_writes_nothing(cli: Cli, tmp_path: Path, per_class: str, fragment: str) -> None:
    r = cli("train", "--data", "digits", "--model", "cnn", "--epochs", "1", "--per-class", per_class,
            "--quiet", "--out", tmp_path / "o", "--lr", "1e6")
    assert_error(r, fragment, "training diverged", "lower --lr", "no bundle was written")
    assert list(tmp_path.iterdir()) == []  # no bundle, no work folder, no lock


def test_predict_json_is_strict_json(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    png = tmp_path / "d.png"
    Image.fromarray(_digit(0)).save(png)
    r = cli("predict", digits_cnn, png, "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
    assert rows[0]["top"][0]["label"] == "0"


@pytest.mark.parametrize("n", ["0", "-1"])
def test_audit_n_must_be_positive(cli: Cli, tmp_path: Path, digits_cnn: Path, n: str) -> None:
    assert_error(cli("audit", digits_cnn, "--data", "digits", "--n", n, "--out", tmp_path / "a"),
                 "--n must be at least 1")
    assert not (tmp_path / "a").exists()


def _digit(index: int) -> np.ndarray:
    from sklearn.datasets import load_digits

    d = load_digits()
    first = int(np.flatnonzero(d.target == index)[0])
    return np.rint(d.images[first] * 255 / 16).astype(np.uint8)


def test_sixteen_bit_png_reads_like_eight_bit(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    from finetune.data.images import read_image

    eight, sixteen = tmp_path / "d8.png", tmp_path / "d16.png"
    Image.fromarray(_digit(0)).save(eight)
    Image.fromarray(_digit(0).astype(np.uint16) * 257).save(sixteen)
    assert Image.open(sixteen).mode.startswith("I")
    assert (read_image(eight).int() - read_image(sixteen).int()).abs().max() <= 1
    r = cli("predict", digits_cnn, eight, sixteen, "--json")
    assert r.code == 0, r.err
    (a, b) = (row["top"][0] for row in json.loads(r.out))
    assert a["label"] == b["label"] == "0" and abs(a["probability"] - b["probability"]) < 1e-3


def _edit_meta(src: Path, dst: Path, edit: Callable[[dict], None]) -> Path:  # type: ignore[type-arg]
    shutil.copytree(src, dst)
    meta = json.loads((dst / "robustune.json").read_text())
    edit(meta)
    (dst / "robustune.json").write_text(json.dumps(meta))
    return dst


def test_labels_must_match_the_outputs(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    def twelve(m: dict) -> None:  # type: ignore[type-arg]
        m["labels"] = [*m["labels"], "x", "y"]
        m["model"]["num_classes"] = 12

    b = _edit_meta(digits_cnn, tmp_path / "b12", twelve)
    assert_error(cli("evaluate", b, "--data", "digits"), "do not fit its robustune.json", "head")
    s = _edit_meta(digits_cnn, tmp_path / "bs", lambda m: m.update(labels="0123456789"))
    assert_error(cli("evaluate", s, "--data", "digits"), "field labels", "expected a list")
    d = _edit_meta(digits_cnn, tmp_path / "bd", lambda m: m["labels"].__setitem__(1, "0"))
    assert_error(cli("evaluate", d, "--data", "digits"), "labels names '0' twice")


def test_duplicate_labels_and_empty_eps(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    w = tmp_path / "w.safetensors"
    w.write_bytes(b"")
    r = cli("import", "--timm", "resnet18", "--weights", w, "--labels", "a,a", "--out", tmp_path / "i")
    assert_error(r, "--labels names 'a' more than once")
    for eps in ("", "1/255,", ","):
        assert_error(cli("audit", digits_cnn, "--data", "digits", "--eps", eps, "--out", tmp_path / "a"),
                     "has an empty value")
    assert_error(cli("audit", digits_cnn, "--data", "digits", "--attacks", "", "--out", tmp_path / "a"),
                 "has an empty name")


# 5. a bundle loads only from its own folder


def test_text_bundle_without_tokenizer_never_reaches_the_hub(tmp_path: Path, text_bundle: Path) -> None:
    b = tmp_path / "t"
    shutil.copytree(text_bundle, b)
    shutil.rmtree(b / "tokenizer")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    start = time.perf_counter()
    r = run_subprocess("predict", str(b), "--text", "a fine film", env=env, timeout=120)
    assert_error(r, "without its tokenizer/ folder")
    assert time.perf_counter() - start < 60
    (b / "tokenizer").mkdir()
    (b / "tokenizer" / "tokenizer.json").write_text("{not json")
    (b / "tokenizer" / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizerFast"}')
    assert_error(run_subprocess("predict", str(b), "--text", "a fine film", env=env, timeout=120),
                 "tokenizer of bundle", "cannot be loaded")


# 6. memory


def _png_header(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` (the pixel cap must refuse it before decoding)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))
                     + chunk(b"IEND", b""))


def test_pixel_cap_names_the_file_and_its_size(cli: Cli, tmp_path: Path, stripes_bundle: Path) -> None:
    data = make_image_folder(tmp_path / "d", per_class=4)
    _png_header(data / "vertical" / "huge.png", 20000, 20000)
    assert_error(cli("train", "--data", f"imagefolder:{data}", *CNN, "--out", tmp_path / "o"),
                 "huge.png is 20000x20000 (400 megapixels)", "150-megapixel limit")
    assert_error(cli("predict", stripes_bundle, data / "vertical" / "huge.png"), "20000x20000")


def test_memory_estimate_refuses_before_allocating(cli: Cli, tmp_path: Path) -> None:
    from finetune.memory import GB, available_bytes

    avail = available_bytes()
    if avail is not None and avail > 64 * GB:
        pytest.skip("this machine has more than 64 GB available: 1,797 images at 1500 px fit")
    start = time.perf_counter()
    r = cli("train", "--data", "digits", "--model", "cnn", "--image-size", "1500", "--out", tmp_path / "o")
    assert_error(r, "needs about", "GB (inputs", "is available", "lower --image-size")
    assert time.perf_counter() - start < 30 and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_huge_images_train_in_little_memory(tmp_path: Path) -> None:
    """Seven 12000 x 12000 PNGs (140 KB each): training stays under 1.5 GB of resident memory."""
    for cls, count in (("rows", 4), ("cols", 3)):
        (tmp_path / "d" / cls).mkdir(parents=True)
        for i in range(count):
            img = np.zeros((12000, 12000), np.uint8)
            if cls == "rows":
                img[::40] = 255
            else:
                img[:, ::40] = 255
            Image.fromarray(img).save(tmp_path / "d" / cls / f"{i}.png")
    # a fresh parent whose only child is the training run reports that child's peak resident memory
    measure = ("import resource, subprocess, sys\n"
               "rc = subprocess.run([sys.executable, '-m', 'robustune', *sys.argv[1:]]).returncode\n"
               "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", measure, "train", "--data", f"imagefolder:{tmp_path / 'd'}",
                           "--model", "cnn", "--epochs", "1", "--quiet", "--out", str(tmp_path / "o")],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    rc, peak_kb = map(int, proc.stdout.split()[-2:])
    assert rc == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert peak_kb < 1.5 * 1024 * 1024, f"peak resident memory {peak_kb / 1024:.0f} MB"


# 7. robustune.json is validated (the property-based test is in test_bundle_schema.py)


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda m: m.clear() or m.update(format_version=1), "field modality is missing"),
    (lambda m: m.pop("labels"), "field labels is missing"),
    (lambda m: m.pop("model"), "field model is missing"),
    (lambda m: m.pop("arch"), "field arch is missing"),
    (lambda m: m.pop("preprocessing"), "field preprocessing is missing"),
    (lambda m: m["model"].update(num_classes="10"), "model.num_classes is a string"),
    (lambda m: m["model"].update(num_classes=-3), "num_classes must be between 2 and"),
    (lambda m: m["model"].update(num_classes=10**12), "num_classes must be between 2 and"),
    (lambda m: m["model"]["backbone_config"].update(colour="red"), "backbone_config.colour is not a known"),
    (lambda m: m.update(modality="audio"), "modality is 'audio', expected one of 'image', 'text'"),
    (lambda m: m["arch"]["options"].update(width=100), "do not fit its robustune.json"),
    (lambda m: m["arch"]["options"].update(width=10**9), "does not describe a buildable model"),
])
def test_damaged_meta_is_one_line(cli: Cli, tmp_path: Path, digits_cnn: Path, edit: Callable, fragment: str
                                  ) -> None:
    b = _edit_meta(digits_cnn, tmp_path / "b", edit)
    assert_error(cli("evaluate", b, "--data", "digits"), fragment, "the bundle is damaged")


def test_meta_that_is_not_an_object_or_has_nan(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    b = tmp_path / "b"
    shutil.copytree(digits_cnn, b)
    (b / "robustune.json").write_text("[1, 2]")
    assert_error(cli("evaluate", b, "--data", "digits"), "is a list", "expected an object")
    text = (digits_cnn / "robustune.json").read_text().replace('"mean": [\n      0.5', '"mean": [\n      NaN')
    assert "NaN" in text
    (b / "robustune.json").write_text(text)
    assert_error(cli("evaluate", b, "--data", "digits"), "not valid JSON", "NaN")


def test_hub_id_in_a_bundle_is_refused(cli: Cli, tmp_path: Path, stripes_bundle: Path) -> None:
    b = _edit_meta(stripes_bundle, tmp_path / "b", lambda m: m["arch"].update(timm_name="hf-hub:org/model"))
    assert_error(cli("evaluate", b, "--data", "digits"), "arch.timm_name", "never names a hub id")


def test_pickled_hf_weights_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    import torch

    from tests.plugins.test_weights import MARKER, Payload

    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 50, "hidden_size": 8,
                                                    "num_hidden_layers": 1, "num_attention_heads": 2,
                                                    "intermediate_size": 16, "num_labels": 2}))
    MARKER.unlink(missing_ok=True)
    torch.save({"w": Payload()}, folder / "pytorch_model.bin")
    r = cli("import", "--hf", folder, "--out", tmp_path / "o")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert not MARKER.exists()


# 8. bad settings never create a folder; a damaged run.json is one line


@pytest.mark.parametrize(("flag", "value", "fragment"), [
    ("--weight-decay", "-1", "--weight-decay must be at least 0"),
    ("--seed", "-1", "--seed must be between 0"),
    ("--batch-size", "0", "--batch-size must be between 1"),
    ("--dropout", "1.5", "--dropout must be in [0, 1)"),
])
def test_bad_settings_create_nothing(cli: Cli, tmp_path: Path, flag: str, value: str, fragment: str) -> None:
    assert_error(cli("train", "--data", "digits", *CNN, "--out", tmp_path / "o", flag, value), fragment)
    assert list(tmp_path.iterdir()) == []


def test_failures_leave_no_folders(cli: Cli, tmp_path: Path, digits_cnn: Path) -> None:
    r = cli("audit", digits_cnn, "--data", "digits", "--attacks", "nope", "--out", tmp_path / "x" / "a")
    assert_error(r, "unknown attack")
    assert_error(cli("train", "--data", f"imagefolder:{tmp_path / 'missing'}", *CNN, "--out",
                     tmp_path / "y" / "z" / "o"), "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_damaged_run_json(cli: Cli, tmp_path: Path) -> None:
    work = tmp_path / "o.work"
    work.mkdir()
    (work / "run.json").write_text("{broken")
    assert_error(cli("train", "--resume", tmp_path / "o"), "run.json is not valid JSON", "--overwrite")
    (work / "run.json").write_text(json.dumps({"data": "digits", "backbone": "cnn", "out": "x", "colour": 1}))
    assert_error(cli("train", "--resume", tmp_path / "o"), "field colour is not a known field")
    (work / "run.json").write_text(json.dumps({"data": "digits", "backbone": "cnn", "out": "x",
                                               "train": {"epochs": "ten"}}))
    assert_error(cli("train", "--resume", tmp_path / "o"), "field train.epochs is a string")


# 9. unwritable --out


def test_unwritable_out(cli: Cli, tmp_path: Path) -> None:
    assert_error(cli("train", "--data", "digits", *CNN, "--out", "/proc/robustune-x"), "cannot write",
                 "not writable")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_error(cli("train", "--data", "digits", *CNN, "--out", blocker / "sub"), "is a file, not a folder")
    assert blocker.read_text() == "x"


# 10. explain on the wrong modality


def test_explain_wrong_modality(cli: Cli, tmp_path: Path, stripes_bundle: Path, text_bundle: Path,
                                image_folder: Path) -> None:
    image = next((image_folder / "vertical").iterdir())
    assert_error(cli("explain", stripes_bundle, "--text", "hello", "--out", tmp_path / "e"),
                 "is an image model", "pass image files")
    assert_error(cli("explain", text_bundle, image, "--out", tmp_path / "e"), "is a text model", "--text")
    assert not (tmp_path / "e").exists()


# 11. leftovers of a killed write are cleaned; a symlinked --out is written where it points


def test_leftovers_are_cleaned_by_the_next_write(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert cli("train", "--data", "digits", *CNN, "--out", out).code == 0
    junk = tmp_path / ".o.tmp-killed"
    junk.mkdir()
    (junk / "model.safetensors").write_bytes(os.urandom(1 << 20))
    os.replace(out, tmp_path / ".o.old-99999")  # killed between the two renames of a replace
    r = cli("train", "--data", "digits", *CNN, "--out", out, "--overwrite")
    assert r.code == 0, r.err
    assert (out / "model.safetensors").is_file() and leftovers(tmp_path) == []


def test_symlinked_out(cli: Cli, tmp_path: Path) -> None:
    real, link = tmp_path / "real", tmp_path / "link"
    assert cli("train", "--data", "digits", *CNN, "--out", real).code == 0
    link.symlink_to(real)
    stamp = (real / "robustune.json").stat().st_mtime_ns
    assert cli("train", "--data", "digits", *CNN, "--out", link, "--overwrite").code == 0
    assert link.is_symlink() and link.resolve() == real
    assert (real / "robustune.json").stat().st_mtime_ns != stamp
    assert leftovers(tmp_path) == []


# 12. messages


def test_csv_with_a_byte_order_mark(cli: Cli, tmp_path: Path, text_bundle: Path) -> None:
    plain = write_csv(tmp_path / "plain.csv")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    r = cli("evaluate", text_bundle, "--data", f"csv:{bom}", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["n"] == 48


def _commands() -> list[str]:
    import typer

    from robustune.cli import full_cli

    return sorted(typer.main.get_command(full_cli()).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", _commands())
def test_usage_errors_of_every_command(cli: Cli, command: str) -> None:
    r = cli(command, "--no-such-flag")
    lines = r.err.strip().splitlines()
    assert r.code == 2 and len(lines) == 2, r.err
    assert lines[0].startswith("error: No such option: --no-such-flag"), lines[0]
    assert lines[1] == f"Try 'robustune {command} --help' for help.", lines[1]
