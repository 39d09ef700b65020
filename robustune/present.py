"""Printing results for people: metric summaries, predictions, plugin lists."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def metrics_table(title: str, metrics: dict[str, dict[str, Any]]) -> Table:
    """Accuracy and macro-F1 per split."""
    table = Table(title=title)
    table.add_column("split")
    table.add_column("n", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_column("macro-F1", justify="right")
    for split, m in metrics.items():
        table.add_row(split, str(m["n"]), f"{m['accuracy']:.4f}", f"{m['macro_f1']:.4f}")
    return table


def per_class_table(metrics: dict[str, Any]) -> Table:
    """Precision and recall per class."""
    table = Table(title="per class")
    for col in ("class", "precision", "recall", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, m in metrics["per_class"].items():
        table.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", str(m["support"]))
    return table


def print_predictions(names: list[str], preds: list[list[tuple[str, float]]]) -> None:
    """One row per input: the top-k labels with probabilities."""
    table = Table()
    table.add_column("input")
    table.add_column("top labels (probability)")
    for name, pred in zip(names, preds, strict=True):
        table.add_row(name, ", ".join(f"{label} ({p:.3f})" for label, p in pred))
    console.print(table)


def ranking_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """compare: rank, candidate, validation accuracy and F1, epochs, parameters, seconds."""
    table = Table(title=title)
    for col in ("rank", "candidate", "val acc", "val F1", "best epoch", "trainable", "train s"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    for r in rows:
        table.add_row(str(r["rank"]), r["candidate"], f"{r['val_accuracy']:.4f}", f"{r['val_macro_f1']:.4f}",
                      str(r["best_epoch"]), f"{r['trainable_params']:,}", f"{r['train_s']:.1f}")
    return table


def recommend_table(rows: list[Any], budget_s: float | None) -> Table:
    """recommend: rank, model:adapter, estimated time, whether it fits, the reason."""
    title = "suggestions" + (f" (budget {budget_s:.0f} s)" if budget_s else "")
    table = Table(title=title)
    for col in ("rank", "model:adapter", "est. train", "fits", "why"):
        table.add_column(col, justify="right" if col in ("rank", "est. train") else "left",
                         no_wrap=col != "why", overflow="fold")
    for i, s in enumerate(rows, 1):
        est = "-" if s.seconds is None else f"{s.seconds:.0f} s"
        table.add_row(str(i), s.label, est, "yes" if s.fits_budget else "no", s.reason)
    return table
