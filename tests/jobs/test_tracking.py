"""``--track mlflow:URI``: runs, parameters, metrics and artifacts land in a real MLflow SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]
pytest.importorskip("mlflow", reason="the mlflow extra is not installed (make test installs it)")


def _runs(uri: str) -> tuple[Any, list[Any]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("robustune")
    assert experiment is not None
    return client, client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def _artifacts(client: Any, run_id: str, path: str = "") -> set[str]:
    """Every artifact path of a run (folders walked)."""
    out: set[str] = set()
    for item in client.list_artifacts(run_id, path or None):
        out |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return out


def test_run_audit_and_tune_are_tracked(cli: Cli, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    track = f"mlflow:{uri}"
    r = cli("run", "--data", "digits", "--model", "cnn", "--epochs", "2", "--attacks", "fgsm",
            "--eps", "4/255", "--n", "40", "--out", tmp_path / "run", "--quiet", "--track", track)
    assert r.code == 0, r.err
    r = cli("audit", tmp_path / "run" / "model", "--data", "digits", "--attacks", "fgsm,pgd",
            "--eps", "2/255", "--n", "40", "--steps", "3", "--out", tmp_path / "audit", "--track", track)
    assert r.code == 0, r.err
    r = cli("tune", "--model", "cnn", "--data", "digits", "--trials", "2", "--max-epochs", "1",
            "--out", tmp_path / "tune", "--quiet", "--track", track)
    assert r.code == 0, r.err

    client, runs = _runs(uri)
    kinds = [run.data.tags.get("robustune.kind") for run in runs]
    assert kinds == ["run", "audit", "tune", None, None]  # the two trials: nested, no kind of their own
    assert all(run.info.status == "FINISHED" for run in runs)
    run, audit, tune, *trials = runs

    # the run: its parameters, an epoch curve, the holdout and audit numbers, the three outputs
    assert run.data.params["run.data"] == "digits" and run.data.params["run.train.epochs"] == "2"
    curve = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [m.step for m in curve] == [1, 2] and all(0 <= m.value <= 1 for m in curve)
    assert 0.5 < run.data.metrics["test.accuracy"] <= 1 and "test.macro_f1" in run.data.metrics
    assert not any("per_class" in k for k in run.data.metrics)  # per-class rows stay in the bundle
    assert any(k.startswith("audit.robust_accuracy.fgsm.eps_") for k in run.data.metrics)
    files = _artifacts(client, run.info.run_id)
    assert {"bundle/model.safetensors", "bundle/robustune.json", "audit/audit.json",
            "report/report.html"} <= files

    # the audit: clean and robust accuracy per attack and budget, its folder
    eps = f"{2 / 255:.5g}"
    assert {f"robust_accuracy.fgsm.eps_{eps}", f"robust_accuracy.pgd.eps_{eps}", "clean_accuracy"} <= \
        set(audit.data.metrics)
    assert audit.data.metrics[f"robust_accuracy.pgd.eps_{eps}"] <= audit.data.metrics["clean_accuracy"]
    assert "audit/audit.json" in _artifacts(client, audit.info.run_id)

    # tune: one nested run per trial with its sampled parameters and score, the best bundle as artifact
    assert all(t.data.tags["mlflow.parentRunId"] == tune.info.run_id for t in trials)
    assert all("lr" in t.data.params and 0 <= t.data.metrics["val_accuracy"] <= 1 for t in trials)
    assert tune.data.metrics["best_val_accuracy"] == max(t.data.metrics["val_accuracy"] for t in trials)
    assert {"tune/tune.json", "bundle/model.safetensors"} <= _artifacts(client, tune.info.run_id)
    assert (tmp_path / "mlartifacts").is_dir()  # artifacts beside the database, not in the working folder


def test_a_failed_job_ends_its_run_failed_and_a_bad_target_is_refused(cli: Cli, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = cli("train", "--data", f"imagefolder:{tmp_path / 'missing'}", "--model", "cnn", "--out",
            tmp_path / "diverged", "--quiet", "--track", f"mlflow:{uri}")
    assert r.code == 2, r.err
    _, runs = _runs(uri)
    assert [run.info.status for run in runs] == ["FAILED"] and not (tmp_path / "diverged").exists()
    assert_error(cli("train", "--data", "digits", "--model", "cnn", "--out", tmp_path / "x", "--track",
                     "wandb"), "--track 'wandb' is not a tracker", "mlflow:URI")
