"""Floor 4a: the application API. One module per use case, each ``run(spec, events) -> result``.

The CLI and the service are thin clients of these functions; they build a spec, call one job,
and render its events and result. ``JOBS`` maps a job kind to its spec type and function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.errors import NotFound


@dataclass(frozen=True)
class Job:
    """A job kind: where its spec type and its function live (imported on first use)."""

    kind: str
    module: str
    spec: str
    help: str

    def load(self) -> tuple[Any, Callable[..., Any]]:
        """(the spec type, the job function)."""
        mod = importlib.import_module(self.module)
        return getattr(mod, self.spec), mod.run


JOBS = {job.kind: job for job in (
    Job("train", "robustune.jobs.train", "TrainSpec", "fine-tune a model and write a bundle"),
    Job("evaluate", "robustune.jobs.evaluate", "EvaluateSpec", "metrics of a bundle on labeled data"),
    Job("predict", "robustune.jobs.predict", "PredictSpec", "top-k labels for image files or texts"),
    Job("audit", "robustune.jobs.audit", "AuditSpec", "attack a bundle: robustness curve and flags"),
    Job("explain", "robustune.jobs.explain", "ExplainSpec", "attributions for image files or texts"),
    Job("report", "robustune.jobs.report", "ReportSpec", "one self-contained HTML report"),
    Job("run", "robustune.jobs.run", "RunSpec", "fine-tune, audit and report in one folder"),
    Job("compare", "robustune.jobs.compare", "CompareSpec", "train candidates on one split and rank them"),
    Job("tune", "robustune.jobs.tune", "TuneSpec", "search a model's settings with Optuna"),
    Job("recommend", "robustune.jobs.recommend", "RecommendSpec", "ranked model suggestions for the data"),
    Job("import", "robustune.jobs.importing", "ImportSpec", "wrap a model trained elsewhere into a bundle"),
    Job("export", "robustune.jobs.export", "ExportSpec", "a bundle as ONNX or a Hugging Face / timm folder"),
    Job("demo", "robustune.jobs.demo", "DemoSpec", "the main job on offline defaults, on two datasets"),
)}


def job(kind: str) -> Job:
    """The job called ``kind``."""
    if kind not in JOBS:
        raise NotFound(f"unknown job kind {kind!r}; the kinds are {', '.join(JOBS)}", field="kind")
    return JOBS[kind]
