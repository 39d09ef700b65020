"""How far each answer can be trusted: calibration, prediction sets and unfamiliar inputs."""

from __future__ import annotations

from typing import Any

from explain.document import Figure, Section, Strong, Table, para
from explain.render import reliability_png
from explain.report_notes import NOTES


def trust_section(trust: dict[str, Any]) -> Section:
    """The reliability diagram (raw and calibrated), the calibration error and likelihood, the sets'
    coverage and size, and the share flagged unfamiliar (``trust``: what evaluation measured)."""
    c = trust["calibration"]
    rows = [{"measure": "calibration error (ECE)", "raw": c["ece_raw"], "calibrated": c["ece"]},
            {"measure": "negative log-likelihood", "raw": c["nll_raw"], "calibrated": c["nll"]}]
    diagram = reliability_png(c["reliability_raw"], c["reliability"])
    blocks: list[Any] = [Table(rows, ["measure", "raw", "calibrated"]),
                         Figure(diagram, "reliability diagram", f"temperature {c['temperature']:.3g}")]
    sets = trust.get("conformal")
    coverage = "90%"
    if sets:
        coverage = f"{sets['coverage_target']:.0%}"
        blocks.append(para("Prediction sets at ", Strong(coverage), " coverage held the true class for ",
                           Strong(f"{sets['coverage']:.1%}"), " of these examples, with ",
                           Strong(f"{sets['mean_size']:.2f}"), " classes per set on average."))
    blocks.append(para("Flagged unfamiliar: ", Strong(f"{trust['unfamiliar']['flagged']:.1%}"),
                       " of these examples."))
    return Section("Trusting each prediction", blocks, NOTES["trust"].format(coverage=coverage))
