"""Every bad input of the foundation issue: one clear line on stderr and exit code 2."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import timm
from safetensors.torch import save_file

from tests.conftest import CliResult, make_image_folder, write_csv

Cli = Callable[..., CliResult]
FAST = ["--weights", "none", "--image-size", "16", "--epochs", "1", "--quiet"]


def assert_error(result: CliResult, *fragments: str) -> None:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_path(cli: Cli, tmp_path: Path) -> None:
    r = cli("train", "--data", f"imagefolder:{tmp_path}/nope", "--backbone", "resnet18",
            "--out", tmp_path / "o", *FAST)
    assert_error(r, "does not exist")
    assert_error(cli("evaluate", tmp_path / "nobundle", "--data", "digits"), "does not exist")


def test_empty_class_folder(cli: Cli, tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=3)
    (root / "empty").mkdir()
    r = cli("train", "--data", f"imagefolder:{root}", "--backbone", "resnet18", "--out",
            tmp_path / "o", *FAST)
    assert_error(r, "class folder", "empty", "has no images")


def test_single_class(cli: Cli, tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=3)
    shutil.rmtree(root / "vertical")
    r = cli("train", "--data", f"imagefolder:{root}", "--backbone", "resnet18", "--out",
            tmp_path / "o", *FAST)
    assert_error(r, "1 class", "'horizontal'", "at least two classes")
    csv = tmp_path / "one.csv"
    csv.write_text("text,label\ngood film,pos\ngreat film,pos\n")
    assert_error(cli("train", "--data", f"csv:{csv}", "--backbone", "bert", "--out", tmp_path / "o"),
                 "1 class", "at least two classes")


def test_corrupt_image_named_and_skippable(cli: Cli, tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=6)
    (root / "vertical" / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    args = ["train", "--data", f"imagefolder:{root}", "--backbone", "resnet18", *FAST]
    assert_error(cli(*args, "--out", tmp_path / "o"), "1 unreadable image(s)", "vertical/bad.jpg",
                 "--skip-corrupt")
    ok = cli(*args, "--out", tmp_path / "o", "--skip-corrupt")
    assert ok.code == 0, ok.err
    assert "skipped 1 unreadable" in (tmp_path / "o" / "robustune.json").read_text()


def test_csv_without_columns_or_with_empty_texts(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", repeat=1, text_col="review")
    args = ["train", "--backbone", "bert", "--out", tmp_path / "o"]
    assert_error(cli(*args, "--data", f"csv:{path}"), "lacks column(s) text", "--text-column")
    empty = tmp_path / "e.csv"
    empty.write_text("text,label\ngood,pos\n ,neg\nbad,neg\n")
    assert_error(cli(*args, "--data", f"csv:{empty}"), "1 empty text(s)", "line 3")


@pytest.mark.parametrize(("flag", "value", "fragment"), [
    ("--backbone", "resnet19", "did you mean 'resnet18'"),
    ("--adapter", "linear_probe", "did you mean 'linear-probe'"),
    ("--data", "digitz", "did you mean 'digits'"),
    ("--head", "liner", "did you mean 'linear'"),
])
def test_unknown_plugin_suggests(cli: Cli, tmp_path: Path, flag: str, value: str, fragment: str) -> None:
    opts = {"--backbone": "resnet18", "--adapter": "full", "--data": "digits", "--head": "linear"}
    opts[flag] = value
    args = [x for kv in opts.items() for x in kv]
    assert_error(cli("train", *args, "--out", tmp_path / "o", *FAST), fragment)


def test_weights_that_do_not_fit(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "vgg.safetensors"
    save_file(timm.create_model("resnet34", num_classes=0).state_dict(), str(path))
    r = cli("train", "--data", "digits", "--backbone", "resnet18", "--weights", path,
            "--out", tmp_path / "o", "--image-size", "16", "--epochs", "1", "--quiet")
    assert_error(r, "do not fit", "unexpected (first: layer1.2")


def test_pickle_weights_refused(cli: Cli, tmp_path: Path) -> None:
    import torch

    from tests.plugins.test_weights import MARKER, Payload

    MARKER.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    torch.save({"w": Payload()}, path)
    r = cli("train", "--data", "digits", "--backbone", "resnet18", "--weights", path,
            "--out", tmp_path / "o", "--quiet")
    assert_error(r, "pickled objects", "refused")
    assert not MARKER.exists()


def test_wrong_modality(cli: Cli, tmp_path: Path, text_csv: Path) -> None:
    r = cli("train", "--data", f"csv:{text_csv}", "--backbone", "resnet18", "--out", tmp_path / "o",
            *FAST)
    assert_error(r, "backbone resnet18 takes image but data", "is text", "text backbone")
    r = cli("train", "--data", "digits", "--backbone", "bert", "--out", tmp_path / "o", "--quiet")
    assert_error(r, "backbone bert takes text but data digits is image")


def test_existing_output_refused_unless_overwrite(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    args = ["train", "--data", "digits", "--backbone", "resnet18", "--per-class", "4", *FAST]
    assert_error(cli(*args, "--out", out), "already exists", "--overwrite")
    assert (out / "precious.txt").read_text() == "keep"
    assert_error(cli(*args, "--out", out, "--overwrite"), "--overwrite refused", "not written by robustune",
                 "nothing was deleted")  # a folder robustune did not write is never replaced
    assert (out / "precious.txt").read_text() == "keep"
    (out / "precious.txt").unlink()
    out.rmdir()
    assert cli(*args, "--out", out).code == 0
    ok = cli(*args, "--out", out, "--overwrite")  # our own bundle is replaced
    assert ok.code == 0, ok.err
    assert (out / "model.safetensors").is_file() and (out / ".robustune-output").is_file()


def test_predict_errors(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert cli("train", "--data", "digits", "--backbone", "resnet18", "--per-class", "4",
               *FAST, "--out", out).code == 0
    assert_error(cli("predict", out, "--text", "hello"), "image model", "not --text")
    assert_error(cli("predict", out, tmp_path / "missing.png"), "not found")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert_error(cli("predict", out, bad), "unreadable image(s)")
    assert_error(cli("evaluate", out, "--data", "fashion-mnist"), "classes the model does not know")


def test_bad_numbers(cli: Cli, tmp_path: Path) -> None:
    base = ["train", "--data", "digits", "--backbone", "resnet18", "--out", tmp_path / "o"]
    assert_error(cli(*base, "--epochs", "0"), "--epochs must be between 1 and 100000")
    assert_error(cli(*base, "--val-fraction", "1.5"), "--val-fraction must be in (0, 1)")
    assert_error(cli(*base, "--adapter", "partial", "--unfreeze", "99", *FAST), "--unfreeze 99")
    assert_error(cli(*base, "--adapter", "linear-probe", "--augment", "shift", *FAST),
                 "--augment cannot be combined with linear-probe")
    assert_error(cli(*base, "--augment", "spin", *FAST), "unknown augmentation 'spin'")


def test_more_training_processes_than_gpus_is_one_line_before_any_starts(cli: Cli, tmp_path: Path) -> None:
    """--nproc N --device cuda counts the GPUs before spawning a rank (was a rank's traceback: invalid
    device ordinal); this machine's count is named."""
    import torch

    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    ranks = have + 2  # several processes, one more than the GPUs (none on CI)
    r = cli("train", "--data", "digits", "--model", "cnn", "--nproc", str(ranks), "--device", "cuda",
            "--out", tmp_path / "m", "--epochs", "1", "--quiet")
    assert_error(r, f"--nproc {ranks} needs {ranks} GPUs with --device cuda", f"this machine has {have}")
    assert not (tmp_path / "m").exists()


def test_predict_and_evaluate_take_a_device(cli: Cli, stripes_bundle: Path, image_folder: Path) -> None:
    """--device as on train: auto runs on a GPU when there is one (here the CPU); cuda without one is one
    line."""
    import torch

    files = sorted(image_folder.rglob("*.png"))[:2]
    r = cli("predict", stripes_bundle, *files, "--device", "auto", "--precision", "fp32")
    assert r.code == 0 and "(0." in r.out, (r.out, r.err)  # a probability per label
    if not torch.cuda.is_available():
        data = f"imagefolder:{image_folder}"
        evaluated = cli("evaluate", stripes_bundle, "--data", data, "--device", "cuda")
        assert_error(evaluated, "--device cuda", "no GPU")
        assert_error(cli("predict", stripes_bundle, *files, "--device", "cuda"), "--device cuda", "no GPU")
