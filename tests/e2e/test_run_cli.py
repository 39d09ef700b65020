"""``robustune run``: fine-tune, audit and report in one folder; a rerun keeps finished steps."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]


def test_run_trains_audits_reports_and_resumes(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("backbone: resnet18\nweights: none\nadapter: full\nimage_size: 16\nper_class: 20\n"
                      "lr: 0.003\n")
    out = tmp_path / "job"
    args = ["run", "--config", config, "--data", "digits", "--epochs", "2", "--attacks", "fgsm", "--eps",
            "2/255,8/255", "--n", "20", "--label-folds", "3", "--out", out, "--quiet"]
    r = cli(*args)
    assert r.code == 0, r.err
    meta = json.loads((out / "model" / "robustune.json").read_text())
    assert meta["training"]["epochs"] == 2 and meta["model"]["backbone"] == "resnet18"
    audit = json.loads((out / "audit" / "audit.json").read_text())
    assert audit["n"] == 20 and list(audit["attacks"]) == ["fgsm"]
    page = (out / "report.html").read_text()
    assert "<h2>Robustness</h2>" in page and "<h2>Clean versus adversarial</h2>" in page
    labels = json.loads((out / "labels" / "labels.json").read_text())  # the labels step: 3 short trainings
    assert labels["examples"] == 200 and "3 trainings of resnet18" in labels["method"]
    assert "<h2>Labels to look at again</h2>" in page and "<h2>The data</h2>" in page
    stamp = (out / "report.html").stat().st_mtime_ns
    again = cli(*args)
    assert again.code == 0, again.err
    assert again.out.count("done earlier") == 4 and (out / "report.html").stat().st_mtime_ns == stamp
    (out / "report.html").unlink()  # redo one step only
    third = cli(*args)
    assert third.code == 0 and third.out.count("done earlier") == 3 and (out / "report.html").is_file()
    certified = cli(*args, "--certify")  # the audit done without it is redone with it, and the report too
    assert certified.code == 0, certified.err
    assert certified.out.count("done earlier") == 2  # train and labels
    cert = json.loads((out / "audit" / "audit.json").read_text())["certified"]
    assert cert["inputs"] == 20 and cert["sigma"] == 0.25 and (out / "audit" / "certified_band.png").is_file()
    assert "<h2>Certified robustness</h2>" in (out / "report.html").read_text()
    (out / "audit" / "audit.json").write_text("{")  # a damaged audit is done again, not an error
    again = cli(*args)
    assert again.code == 0, again.err
    assert again.out.count("done earlier") == 2 and json.loads((out / "audit" / "audit.json").read_text())


def test_run_bad_input(cli: Cli, tmp_path: Path) -> None:
    assert_error(cli("run", "--data", "digits", "--backbone", "resnet18", "--attacks", "word-level",
                     "--out", tmp_path / "j", "--epochs", "1", "--weights", "none", "--quiet"),
                 "works on text models")
    assert not (tmp_path / "j").exists()  # refused before any training
