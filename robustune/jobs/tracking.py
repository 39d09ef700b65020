"""Experiment tracking in MLflow: ``--track mlflow[:URI]`` on train, run, audit and tune.

``tracked(kind, fn, target)`` wraps a job function: one MLflow run per job (experiment
``robustune``) with the spec as parameters, every event passed on unchanged, and from them each
epoch's metrics (step = epoch) and each tune trial as a nested run (its parameters, validation
accuracy and per-epoch curve); at the end the result's metrics (holdout accuracy, the audit's clean
and robust accuracies) and its files as artifacts (bundle, audit folder, report, tune.json and plot).
A job that fails ends its run FAILED, an interrupted one KILLED (MLflow's own run states).

The default URI is a SQLite store, ``sqlite:///mlflow.db`` in the working folder (MLflow's own
direction: its file store is deprecated), with artifacts in ``mlartifacts/`` beside the database;
``mlflow:http://HOST:5000`` logs to a tracking server, ``mlflow:sqlite:////abs/path.db`` elsewhere.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins.errors import InvalidInput, Unsupported, opt
from plugins.events import Event, Events, Metric, Reporter, reporter

DEFAULT_URI = "sqlite:///mlflow.db"
EXPERIMENT = "robustune"
TRACK_HELP = ("log parameters, metrics and artifacts to MLflow: mlflow (a SQLite store, ./mlflow.db) or "
              "mlflow:URI")
SKIP = ("epoch", "of", "step")  # an epoch record's counters: the step already says them


@dataclass(frozen=True)
class Target:
    """Where runs go: an MLflow tracking URI."""

    uri: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """``mlflow`` or ``mlflow:URI``; anything else raises one line naming the field."""
        kind, _, uri = text.partition(":")
        if kind != "mlflow":
            raise InvalidInput(f"{opt('track')} {text!r} is not a tracker; use mlflow or mlflow:URI (e.g. "
                               "mlflow:sqlite:///runs.db or mlflow:http://127.0.0.1:5000)", field="track")
        return cls(uri or DEFAULT_URI)


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``a.b.c`` keys (lists and other values kept as they are)."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, inner in value.items():
        out.update(flat(inner, f"{prefix}.{key}" if prefix else str(key)))
    return out


def numbers(values: dict[str, Any]) -> dict[str, float]:
    """The finite numbers among ``values`` (booleans, text and per-class rows left out: those stay in the
    bundle and the report)."""
    return {k: float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and ".per_class." not in k and "confusion" not in k}


class TrackingEvents:
    """Passes every event on to the job's own sink; epochs and trials also go to the active MLflow run."""

    def __init__(self, inner: Reporter, mlflow: Any) -> None:
        self.inner, self.mlflow = inner, mlflow

    def emit(self, event: Event) -> None:
        """Pass ``event`` on; log what it measures."""
        self.inner.sink.emit(event)
        if isinstance(event, Metric):
            METRICS.get(event.name, _ignore)(self.mlflow, event)

    def cancelled(self) -> bool:
        """Whatever the job's own sink says."""
        return self.inner.sink.cancelled()


def _epoch(mlflow: Any, event: Metric) -> None:
    values = numbers({k: v for k, v in event.values.items() if k not in SKIP})
    mlflow.log_metrics(values, step=int(event.step or 0))


def _trial(mlflow: Any, event: Metric) -> None:
    """One nested run per tune trial: its sampled parameters, its score and its curve."""
    values = event.values
    with mlflow.start_run(run_name=f"trial {event.step}", nested=True):
        mlflow.set_tag("robustune.trial_state", values.get("state", "complete"))
        mlflow.log_params({k: str(v) for k, v in dict(values.get("params") or {}).items()})
        for step, accuracy in enumerate(values.get("curve") or [], 1):
            mlflow.log_metric("val_accuracy_per_epoch", float(accuracy), step=step)
        if values.get("val_accuracy") is not None:
            mlflow.log_metric("val_accuracy", float(values["val_accuracy"]))


def _ignore(mlflow: Any, event: Metric) -> None:
    """Metrics the end of the job logs whole (an audit's attacks) or that carry no number."""


METRICS: dict[str, Callable[[Any, Metric], None]] = {"epoch": _epoch, "rbm": _epoch, "trial": _trial}


def _audit_metrics(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Clean accuracy and each attack's robust accuracy per budget from an audit.json."""
    out = numbers({f"{prefix}clean_accuracy": report.get("clean_accuracy")})
    for attack, by_eps in (report.get("attacks") or {}).items():
        for eps, stats in by_eps.items():
            if isinstance(stats, dict) and "robust_accuracy" in stats:
                name = f"{prefix}robust_accuracy.{attack}.eps_{float(eps):.5g}"
                out[name] = float(stats["robust_accuracy"])
    worst = report.get("worst_case") or {}
    out.update(numbers({f"{prefix}worst_case_robust_accuracy": worst.get("robust_accuracy")}))
    return out


def _log_path(mlflow: Any, path: Path | None, name: str) -> None:
    if path is None or not Path(path).exists():
        return
    if Path(path).is_dir():
        mlflow.log_artifacts(str(path), artifact_path=name)
    else:
        mlflow.log_artifact(str(path), artifact_path=name)


def _finish_train(mlflow: Any, result: Any) -> None:
    mlflow.log_metrics(numbers(flat(result.metrics)))
    mlflow.log_metrics(numbers(flat({"seconds": result.seconds})))
    _log_path(mlflow, result.bundle, "bundle")


def _finish_run(mlflow: Any, result: Any) -> None:
    mlflow.log_metrics(numbers(flat(result.metrics)))
    mlflow.log_metrics(_audit_metrics(result.audit_report, "audit."))
    _log_path(mlflow, result.bundle, "bundle")
    _log_path(mlflow, result.audit, "audit")
    _log_path(mlflow, result.report, "report")


def _finish_audit(mlflow: Any, result: Any) -> None:
    mlflow.log_metrics(_audit_metrics(result.report))
    _log_path(mlflow, result.out, "audit")


def _finish_tune(mlflow: Any, result: Any) -> None:
    mlflow.log_metrics({"best_val_accuracy": float(result.best_value),
                        **numbers(flat(result.holdout, "holdout"))})
    mlflow.log_params({f"best.{k}": str(v) for k, v in result.best_params.items()})
    for file in result.files:
        _log_path(mlflow, Path(file), "tune")
    _log_path(mlflow, result.bundle, "bundle")


FINISH: dict[str, Callable[[Any, Any], None]] = {
    "train": _finish_train, "run": _finish_run, "audit": _finish_audit, "tune": _finish_tune,
}


def _mlflow(target: Target) -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise Unsupported(f"{opt('track')} mlflow needs MLflow: pip install 'robustune[mlflow]'",
                          field="track") from exc
    for name in ("mlflow", "alembic"):  # their INFO lines (creating tables, ...) are not the command's output
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(target.uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if target.uri.startswith("sqlite:///"):  # artifacts beside the database, not wherever the job ran
            location = (Path(target.uri[len("sqlite:///"):]).resolve().parent / "mlartifacts").as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


def tracked(kind: str, fn: Callable[..., Any], track: str) -> Callable[..., Any]:
    """``fn`` (a job's ``run``) logging to MLflow as the module says; ``track`` is mlflow[:URI]."""
    if kind not in FINISH:
        raise InvalidInput(f"{opt('track')} works with {', '.join(FINISH)}, not {kind}", field="track")
    target = Target.parse(track)

    def run(spec: Any, events: Events | Reporter | None = None) -> Any:
        mlflow = _mlflow(target)
        report = reporter(events)
        params = {k: str(v)[:500] for k, v in flat(spec.to_json()).items() if v is not None}
        with mlflow.start_run(run_name=f"{kind}: {_title(spec)}"):
            mlflow.set_tags({"robustune.kind": kind})
            mlflow.log_params(params)
            result = fn(spec, Reporter(TrackingEvents(report, mlflow), report.min_interval))
            FINISH[kind](mlflow, result)
            return result

    return run


def _title(spec: Any) -> str:
    """A short name for the run: the model and data, or the bundle audited."""
    cfg = getattr(spec, "run", None)
    if cfg is not None and hasattr(cfg, "backbone"):
        return f"{cfg.backbone} on {cfg.data}"
    if hasattr(spec, "model") and isinstance(spec.model, str):
        return f"{spec.model} on {dict(getattr(spec, 'options', {})).get('data', '')}"
    return str(getattr(spec, "bundle", "") or "")
