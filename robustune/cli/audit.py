"""The audit command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robustune.cli.app import app
from robustune.cli.options import TRACK, add_command, job_fn, spec_params
from robustune.cli.render import audit_table, console, run_job, text_attack_table
from robustune.jobs import audit

PARAMS = [*spec_params(audit.AuditSpec), TRACK]


def show_audit(report: dict[str, Any], folder: Path) -> None:
    """The robust-accuracy table, the text-attack table, the flags and the files."""
    console.print(audit_table(report))
    if report["modality"] == "text":
        console.print(text_attack_table(report))
    for flag in report["flags"]:
        console.print(f"[bold yellow]flag[/] {flag['code']}: {flag['message']}")
    if not report["flags"]:
        console.print("sanity flags: none raised")
    examples = "adversarial_texts.json" if report["modality"] == "text" else "adversarial.safetensors"
    console.print(f"audit: {folder}/audit.json, robustness_curve.png/.svg, {examples}", soft_wrap=True)


def _audit(values: dict[str, Any]) -> None:
    fn = job_fn("audit", audit.run, values)
    result = run_job(fn, audit.AuditSpec.from_json(values, lax=True))
    show_audit(result.report, result.out)


add_command(app, "audit",
            "Attack a bundle: robust accuracy per attack and epsilon, worst case, sanity flags, "
                          "curve.", PARAMS, _audit)
