"""The ``demo`` job: the whole job (``run``) on offline defaults for an image and a text model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.events import Events, Reporter, reporter
from plugins.records import Result, Spec
from plugins.schema import option
from robustune.jobs import Job
from robustune.jobs import run as run_job

JOBS: dict[str, dict[str, Any]] = {
    "fashion-mnist-efficientnet": {
        "data": "fashion-mnist", "backbone": "efficientnet_lite0", "adapter": "partial",
        "unfreeze": 2, "image_size": 96, "per_class": 100, "test_per_class": 50,
        "epochs": 5, "lr": 2e-3, "backbone_lr_mult": 0.3, "augment": "shift", "n": 200,
    },
    "rotten-tomatoes-minilm": {
        "data": "rotten-tomatoes", "backbone": "bert", "adapter": "full",
        "per_class": 250, "test_per_class": 250, "epochs": 3, "lr": 1e-3,
        "backbone_lr_mult": 0.05, "max_length": 64, "n": 100,
    },
}
QUICK = {"per_class": 12, "test_per_class": 10, "epochs": 1, "n": 10, "gallery": 2, "quality_n": 4,
         "n_steps": 8}


@dataclass(frozen=True)
class DemoSpec(Spec):
    """Where to write the two jobs."""

    out: str = option("demo-out", help="folder for the demo jobs")
    quick: bool = option(False, help="tiny subsets (for tests)")


@dataclass
class DemoOutput(Result):
    """Per job: holdout accuracy, clean and worst-case robust accuracy, time and the report."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    runs: list[run_job.RunOutput] = field(default_factory=list)


def specs(out: Path, quick: bool) -> list[tuple[str, run_job.RunSpec]]:
    """The demo's run specs by job name (``quick``: tiny subsets)."""
    return [(name, run_job.RunSpec.from_options({**job, **(QUICK if quick else {}), "out": str(out / name)}))
            for name, job in JOBS.items()]


def run(spec: DemoSpec, events: Events | Reporter | None = None) -> DemoOutput:
    """Run both jobs (finished steps of an earlier demo in ``out`` are kept) and summarize."""
    report = reporter(events)
    rows, runs = [], []
    for name, job in specs(Path(spec.out), spec.quick):
        start = time.perf_counter()
        result = run_job.run(job, report)
        runs.append(result)
        audit = result.audit_report
        largest = f"{max(audit['eps']):.6g}"
        rows.append({"job": name, "holdout_accuracy": result.metrics["test"]["accuracy"],
                     "clean_accuracy": audit["clean_accuracy"],
                     "worst_case_robust_accuracy": audit["worst_case"][largest]["robust_accuracy"],
                     "seconds": time.perf_counter() - start, "report": str(result.report)})
    return DemoOutput(rows, runs)


JOB = Job("demo", DemoSpec, run,
          "The main job on offline defaults: fine-tune, audit and report an image and a text model.",
          service=False)
