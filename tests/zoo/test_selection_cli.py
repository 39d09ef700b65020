"""compare, tune and recommend end to end on small data, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CliResult

SMALL = ["--data", "digits", "--per-class", "40", "--test-per-class", "10"]


def test_compare_ranks_on_validation_and_touches_the_holdout_once(cli: CliResult, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    res = cli("compare", *SMALL, "--candidates", "cnn,rnn:scratch,dbn", "--epochs", "3", "--lr", "3e-3",
              "--out", out, "--quiet")
    assert res.code == 0, res.err
    report = json.loads((out / "compare.json").read_text())
    ranking = report["ranking"]
    assert {r["candidate"] for r in ranking} == {"cnn", "rnn:scratch", "dbn", "baseline"}
    assert [r["rank"] for r in ranking] == [1, 2, 3, 4]
    assert [r["val_accuracy"] for r in ranking] == sorted((r["val_accuracy"] for r in ranking), reverse=True)
    models = [r for r in ranking if r["bundle"] is not None]  # the classical baseline ranks without a bundle
    assert report["winner"] == models[0]["candidate"] and report["holdout"]["split"] == "holdout"
    assert report["holdout"]["n"] == 100
    base = next(r for r in ranking if r["candidate"] == "baseline")
    assert base["model"].startswith("logistic regression on ") and base["val_accuracy"] > 0.8
    for row in models:  # candidates' bundles carry validation metrics only
        meta = json.loads((Path(row["bundle"]) / "robustune.json").read_text())
        assert set(meta["metrics"]) == {"val"}
    assert (out / "validation_curves.png").stat().st_size > 1000 and (out / "validation_curves.svg").is_file()
    assert "winner:" in res.out and "holdout accuracy" in res.out


def test_tune_searches_prunes_and_retrains_the_best(cli: CliResult, tmp_path: Path) -> None:
    out = tmp_path / "tune"
    res = cli("tune", "--model", "cnn", *SMALL, "--trials", "4", "--max-epochs", "3", "--out", out, "--quiet")
    assert res.code == 0, res.err
    report = json.loads((out / "tune.json").read_text())
    assert len(report["trials"]) == 4
    assert {"lr", "weight_decay", "epochs", "model.width", "model.depth"} <= set(report["best_params"])
    done = [t for t in report["trials"] if t["state"] == "complete"]
    assert max(t["val_accuracy"] for t in done) == report["best_val_accuracy"]
    best = json.loads((out / "best" / "robustune.json").read_text())
    assert best["model"]["backbone_config"]["options"]["width"] == report["best_params"]["model.width"]
    assert report["holdout"]["n"] == 100 and not (out / "trials").exists()
    assert (out / "trial_curves.png").is_file()


def test_recommend_profiles_data_and_times_suggestions(cli: CliResult) -> None:
    res = cli("recommend", "--data", "digits", "--budget", "2m", "--epochs", "5")
    assert res.code == 0, res.err
    assert "image data: 1151 training examples, 10 classes" in res.out and "~8px" in res.out
    for name in ("cnn:scratch", "efficientnet_lite0:linear-probe", "lstm:scratch"):
        assert name in res.out
    assert " s " in res.out or " s│" in res.out  # measured estimates
    assert "next: robustune train --data digits --model" in res.out
    assert "logistic regression on" in res.out  # the classical baseline, fitted and listed


def test_recommend_orders_by_budget_and_interpretability() -> None:
    from finetune.selection.recommend import recommend

    _, rows = recommend({"data": "digits"}, budget_s=1e-3, interpretable=True)
    assert all(r.seconds is not None and r.seconds > 0 for r in rows)
    assert not any(r.fits_budget for r in rows)  # nothing trains in a millisecond
    assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)
    assert all("interpretable" in r.reason for r in rows if r.model == "cnn")


@pytest.mark.parametrize(("args", "fragment"), [
    (["compare", "--data", "digits", "--candidates", "cnn,resnet81"], "did you mean resnet18"),
    (["compare", "--data", "digits", "--candidates", "cnn:lorra"], "unknown adapter"),
    (["compare", "--data", "digits", "--candidates", "cnn,cnn"], "twice"),
    (["compare", "--data", "digits"], "--candidates is missing"),
    (["tune", "--model", "cnnn", "--data", "digits"], "unknown candidate model"),
    (["tune", "--model", "cnn", "--data", "digits", "--trials", "0"], "--trials"),
    (["recommend", "--data", "digits", "--budget", "soon"], "--budget must be a positive duration"),
    (["recommend"], "missing --data"),
])
def test_selection_bad_input(cli: CliResult, tmp_path: Path, args: list[str], fragment: str) -> None:
    res = cli(*args, *(["--out", str(tmp_path / "o")] if args[0] != "recommend" else []))
    assert res.code != 0 and fragment in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1
