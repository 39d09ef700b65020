"""The robustness section: the audit's curve, its numbers per attack and budget, and its flags."""

from __future__ import annotations

from typing import Any

from explain.document import Block, Figure, Flags, Section, Table, para
from explain.report_notes import NOTES


def robustness_section(report: dict[str, Any], curve_png: bytes) -> Section:
    """From an audit report (``audit.json``) and its robustness curve (a PNG)."""
    text = report.get("modality") == "text"
    rows = []
    for name, by_eps in report["attacks"].items():
        for key, s in by_eps.items():
            rows.append({"attack": name, "budget": float(key) if text else f"{float(key) * 255:.3g}/255",
                         "robust_accuracy": s["robust_accuracy"], "seconds": s["seconds"],
                         **({"success_rate": s["success_rate"], "words_changed": s["mean_words_changed"],
                             "queries": s["mean_queries"]} if text else {"mean_linf": s["mean_linf"]})})
    blocks: list[Block] = [para(f"Clean accuracy {report['clean_accuracy']:.3f} on {report['n']} examples."),
              Figure(curve_png, "robustness curve"), Table(rows), Flags(report["flags"])]
    meaning = NOTES["budget_text" if text else "budget_image"]
    return Section("Robustness", blocks, NOTES["robustness"].format(meaning=meaning))
