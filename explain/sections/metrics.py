"""Holdout metrics, per-class results and group (bias) metrics."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from explain.bias import group_report
from explain.document import Figure, Section, Strong, Table, para
from explain.render import confusion_png
from explain.report_notes import NOTES


def metrics_sections(labels: list[str], metrics: dict[str, Any], used: str) -> list[Section]:
    """Accuracy and macro-F1 with the confusion matrix; precision, recall and F1 per class."""
    per_class = [{"class": c, **v} for c, v in metrics["per_class"].items()]
    summary = para("Accuracy ", Strong(f"{metrics['accuracy']:.3f}"), ", macro-F1 ",
                   Strong(f"{metrics['macro_f1']:.3f}"), f" on {metrics['n']} examples ({used} split).")
    matrix = Figure(confusion_png(metrics["confusion_matrix"], labels), "confusion matrix")
    columns = ["class", "precision", "recall", "f1", "support"]
    return [Section("Holdout metrics", [summary, matrix], NOTES["metrics"]),
            Section("Per-class results", [Table(per_class, columns)], NOTES["per_class"])]


def bias_section(pred: Tensor, labels: Tensor, groups: list[str], classes: list[str],
                 positive: str | None) -> Section:
    """The same metrics per group, with the largest gaps between groups."""
    r = group_report(pred, labels, groups, classes, positive)
    gaps = para(f"Largest gaps between groups: accuracy {r['accuracy_gap']:.3f}, demographic parity "
                f"difference {r['demographic_parity_difference']:.3f}, equalized-odds difference "
                f"{r['equalized_odds_difference']:.3f}.")
    note = NOTES["groups"].format(positive=r["positive_class"] or "each class against the rest")
    return Section("Groups", [Table(r["groups"]), gaps], note)
