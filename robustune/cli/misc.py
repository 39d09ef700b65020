"""plugins and demo."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from robustune.cli.app import app
from robustune.cli.options import add_command, spec_params
from robustune.cli.render import console, run_job
from robustune.jobs import demo


@app.command()
def plugins() -> None:
    """List every plugin by kind: name, one-line description, the distribution it comes from."""
    from plugins.registry import registry

    entries = list(registry)
    width = max(len(e.name) for e in entries)
    for kind in registry.kinds():
        print(f"{kind}:")
        for e in (e for e in entries if e.kind == kind):
            print(f"  {e.name:<{width}}  {e.description}  [{e.source}]")


def _demo(values: dict[str, Any]) -> None:
    from robustune.cli.training import show_run

    result = run_job(demo.run, demo.DemoSpec.from_json(values, lax=True))
    for row, run in zip(result.rows, result.runs, strict=True):
        show_run(run, row["job"])
    table = Table(title="robustune demo")
    for col in ("job", "holdout accuracy", "clean / worst-case robust (audit)", "time"):
        table.add_column(col)
    for r in result.rows:
        robust = f"{r['clean_accuracy']:.3f} / {r['worst_case_robust_accuracy']:.3f}"
        table.add_row(r["job"], f"{r['holdout_accuracy']:.3f}", robust, f"{r['seconds']:.0f} s")
    console.print(table)
    for r in result.rows:
        console.print(f"report: {r['report']}", soft_wrap=True)
    out = values.get("out", "demo-out")
    console.print(f"open the reports in a browser; bundles and audits are next to them in {out}",
                  soft_wrap=True)


add_command(app, "demo", "The main job on offline defaults: fine-tune, audit and report an image and a text "
                         "model.", spec_params(demo.DemoSpec), _demo)
