"""Commands that explain: explain, report."""

from __future__ import annotations

from typing import Any

from robustune.cli.app import app
from robustune.cli.options import add_command, spec_params
from robustune.cli.render import console, run_job
from robustune.jobs import explain, report

EXPLAIN_PARAMS = spec_params(explain.ExplainSpec)


def _explain(values: dict[str, Any]) -> None:
    result = run_job(explain.run, explain.ExplainSpec.from_json(values, lax=True))
    for row in result.rows:
        what = row.get("input") or row["text"]
        extra = f"  top words: {', '.join(row['top_words'])}" if "top_words" in row else ""
        console.print(f"{what}: {row['explained_class']} (predicted {row['prediction']}, "
                      f"p = {row['probability']:.2f}){extra}", soft_wrap=True, markup=False)
    page = "explanations.html" if result.rows and "text" in result.rows[0] else "overlay PNGs"
    console.print(f"explanations: {result.out} ({page}, explanations.json)", soft_wrap=True)


add_command(app, "explain",
            "Attributions for image files (overlay PNGs) or texts (highlighted words in HTML).",
            EXPLAIN_PARAMS, _explain)

REPORT_PARAMS = spec_params(report.ReportSpec)


def _report(values: dict[str, Any]) -> None:
    result = run_job(report.run, report.ReportSpec.from_json(values, lax=True))
    for path in result.files:
        console.print(f"report: {path}", soft_wrap=True)


add_command(app, "report", "One self-contained HTML report: model card, metrics, groups, robustness, "
                           "explanations.", REPORT_PARAMS, _report)
