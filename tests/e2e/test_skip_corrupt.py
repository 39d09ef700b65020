"""--skip-corrupt reaches every step: `run` on an image folder holding an unreadable file trains, audits
and reports (with the PDF) to the end, and a rerun keeps the finished steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult, make_image_folder

Cli = Callable[..., CliResult]


def test_run_skip_corrupt_goes_to_the_end(cli: Cli, tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "imgs", per_class=16, size=24)
    (folder / "vertical" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    out = tmp_path / "run"
    args = ["run", "--data", f"imagefolder:{folder}", "--model", "cnn", "--epochs", "1", "--n", "8",
            "--steps", "2", "--gallery", "1", "--quality-n", "2", "--shortcut-n", "4", "--out", out,
            "--quiet"]
    refused = cli(*args)
    assert refused.code == 2 and "--skip-corrupt" in refused.err, refused.err
    r = cli(*args, "--skip-corrupt", "--pdf")
    assert r.code == 0, r.err
    assert (out / "model" / "robustune.json").is_file() and (out / "audit" / "audit.json").is_file()
    assert (out / "report.html").is_file() and (out / "report.pdf").read_bytes().startswith(b"%PDF")
    again = cli(*args, "--skip-corrupt", "--pdf")
    assert again.code == 0 and "done earlier" in again.out + again.err
    for step in ("audit", "evaluate"):  # each step on its own takes the flag too
        extra = ["--n", "4", "--attacks", "fgsm", "--out", tmp_path / "a2"] if step == "audit" else []
        alone = cli(step, out / "model", "--data", f"imagefolder:{folder}", "--skip-corrupt", *extra)
        assert alone.code == 0, alone.err
    shown = [str(p) for p in sorted((folder / "vertical").glob("*.png"))[:2]]
    broken = str(folder / "vertical" / "broken.png")
    refused_explain = cli("explain", out / "model", broken, *shown, "--out", tmp_path / "x1")
    assert refused_explain.code == 2 and "unreadable" in refused_explain.err
    explained = cli("explain", out / "model", broken, *shown, "--out", tmp_path / "x2", "--skip-corrupt",
                    "--n-steps", "4")
    assert explained.code == 0, explained.err
    assert "skipped 1 unreadable image file(s)" in explained.out + explained.err
    assert len(list((tmp_path / "x2").glob("*.png"))) >= 2
