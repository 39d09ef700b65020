"""``make demo``: the whole job (``robustune run``) on offline defaults, for an image model and a
text model: fine-tune, audit, write the report; then a summary with the report paths."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table

from finetune.run_config import RunConfig, from_options
from robustune.pipeline import PipelineConfig, run_pipeline
from robustune.present import console
from robustune.report_cmd import ReportConfig

JOBS: dict[str, dict[str, Any]] = {
    "fashion-mnist-efficientnet": {
        "data": "fashion-mnist", "backbone": "efficientnet_lite0", "adapter": "partial",
        "unfreeze": 2, "image_size": 96, "per_class": 100, "test_per_class": 50,
        "epochs": 5, "lr": 2e-3, "backbone_lr_mult": 0.3, "augment": "shift",
    },
    "rotten-tomatoes-minilm": {
        "data": "rotten-tomatoes", "backbone": "bert", "adapter": "full",
        "per_class": 250, "test_per_class": 250, "epochs": 3, "lr": 1e-3,
        "backbone_lr_mult": 0.05, "max_length": 64,
    },
}
AUDIT_N = {"fashion-mnist-efficientnet": 200, "rotten-tomatoes-minilm": 100}
QUICK = {"per_class": 12, "test_per_class": 10, "epochs": 1}


def demo_configs(out: Path, quick: bool) -> list[tuple[str, RunConfig]]:
    """The demo's run configs by job name (``quick``: tiny subsets for tests)."""
    return [(name, from_options({**job, **(QUICK if quick else {}), "out": str(out / name / "model")}))
            for name, job in JOBS.items()]


def run_demo(out: Path, quick: bool = False) -> None:
    """Run both jobs (finished steps of an earlier demo in ``out`` are kept) and summarize."""
    table = Table(title="robustune demo")
    for col in ("job", "holdout accuracy", "clean / worst-case robust (audit)", "time"):
        table.add_column(col)
    reports = []
    for name, run in demo_configs(out, quick):
        start = time.perf_counter()
        report = ReportConfig(gallery=2, quality_n=4, n_steps=8) if quick else ReportConfig()
        cfg = PipelineConfig(audit_n=10 if quick else AUDIT_N[name], report=report)
        result = run_pipeline(run, out / name, cfg)
        table.add_row(name, *_summary(result.bundle, result.audit), f"{time.perf_counter() - start:.0f} s")
        reports.append(result.report)
    console.print(table)
    for path in reports:
        console.print(f"report: {path}", soft_wrap=True)
    console.print(f"open the reports in a browser; bundles and audits are next to them in {out}",
                  soft_wrap=True)


def _summary(bundle: Path, audit: Path) -> tuple[str, str]:
    import json

    meta = json.loads((bundle / "robustune.json").read_text())
    report = json.loads((audit / "audit.json").read_text())
    largest = f"{max(report['eps']):.6g}"
    worst = report["worst_case"][largest]["robust_accuracy"]
    return f"{meta['metrics']['test']['accuracy']:.3f}", f"{report['clean_accuracy']:.3f} / {worst:.3f}"
