"""How the CLI shows a job: rich progress bars for its events, tables for its results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from plugins.errors import render
from plugins.events import Event, Log, Metric
from plugins.events import Progress as ProgressEvent

console = Console()  # results (stdout)
err_console = Console(stderr=True)  # progress and logs (stderr)
R = TypeVar("R")


class RichEvents:
    """Renders a job's events: a progress bar per stage, log lines, one line per training epoch.

    ``quiet`` shows nothing but the result. Ctrl-C stops a job (the CLI never cancels otherwise).
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err_console, transient=True,
                            disable=quiet or not err_console.is_terminal)  # bars only on a terminal
        self.tasks: dict[str, TaskID] = {}

    def emit(self, event: Event) -> None:
        """Show ``event``."""
        if isinstance(event, ProgressEvent):
            self._progress(event)
        elif isinstance(event, Log) and not self.quiet:  # options named in it shown as flags
            self.bar.console.print(render(event.message, flags=True), soft_wrap=True, markup=False,
                                   highlight=False)
        elif isinstance(event, Metric) and event.name == "epoch" and not self.quiet:
            self.bar.console.print(epoch_line(event.values), markup=False, highlight=False)

    def _progress(self, event: ProgressEvent) -> None:
        task = self.tasks.get(event.stage)
        label = f"{event.stage} {event.message}".strip()
        if task is None:
            task = self.tasks[event.stage] = self.bar.add_task(label, total=event.total)
        self.bar.update(task, completed=event.step, total=event.total, description=label)
        if event.total is not None and event.step >= event.total:
            self.bar.remove_task(task)
            del self.tasks[event.stage]

    def cancelled(self) -> bool:
        """Never: on the command line Ctrl-C stops the work."""
        return False


def epoch_line(v: dict[str, Any]) -> str:
    """``epoch 3: train loss 0.4 acc 0.9 | val loss 0.5 acc 0.88``."""
    return (f"epoch {v['epoch']}: train loss {v['train_loss']:.4f} acc "
            f"{v.get('train_accuracy', float('nan')):.4f} | "
            f"val loss {v['val_loss']:.4f} acc {v['val_accuracy']:.4f}")


def run_job(fn: Callable[[Any, Any], R], spec: Any, quiet: bool = False) -> R:
    """Run a job with its events shown as progress bars; return its result."""
    events = RichEvents(quiet)
    with events.bar:
        return fn(spec, events)


def metrics_table(title: str, metrics: dict[str, dict[str, Any]],
                  baseline: dict[str, Any] | None = None) -> Table:
    """Accuracy and macro-F1 per split; with the holdout's trust summary, calibrated ECE and the coverage
    of the prediction sets; the classical baseline's accuracy on the last split, when given."""
    table = Table(title=title)
    trust = any("trust" in m and "ece" in m["trust"] for m in metrics.values())
    columns = [("split", "left"), ("n", "right"), ("accuracy", "right"), ("macro-F1", "right")]
    for col, just in columns + ([("ECE", "right"), ("set coverage", "right")] if trust else []):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for split, m in metrics.items():
        row = [split, str(m["n"]), f"{m['accuracy']:.4f}", f"{m['macro_f1']:.4f}"]
        if trust:
            t = m.get("trust", {})
            row += [f"{t['ece']:.4f}" if "ece" in t else "",
                    f"{t['coverage']:.3f} ({t['coverage_target']:.0%})" if "coverage" in t else ""]
        table.add_row(*row)
    if baseline:
        held = "test" in metrics and baseline.get("test_accuracy") is not None
        acc = baseline["test_accuracy" if held else "val_accuracy"]
        n = metrics["test" if held else "val"]["n"] if metrics else ""
        table.add_row(f"{'test' if held else 'val'}: baseline", str(n), f"{acc:.4f}", "",
                      *(["", ""] if trust else []))
        table.caption = f"baseline: {baseline['name']}"
    return table


def per_class_table(metrics: dict[str, Any]) -> Table:
    """Precision and recall per class."""
    table = Table(title="per class")
    for col in ("class", "precision", "recall", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, m in metrics["per_class"].items():
        table.add_row(name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", str(m["support"]))
    return table


def predictions_table(rows: list[dict[str, Any]]) -> Table:
    """One row per input: the top-k labels with (calibrated) probabilities, the prediction set, and a
    mark on unfamiliar inputs; a bundle without a trust record says so in the caption."""
    calibrated = all(r.get("calibrated") for r in rows)
    table = Table(caption=next((r.get("trust_note") or r.get("set_note") for r in rows
                                if r.get("trust_note") or r.get("set_note")), None))
    table.add_column("input")
    table.add_column("top labels (" + ("calibrated " if calibrated else "") + "probability)")
    sets = any("set" in r for r in rows)
    if sets:
        coverage = next(r["coverage"] for r in rows if "set" in r)
        table.add_column(f"set ({coverage:.0%} coverage)")
    if calibrated:
        table.add_column("familiar?")
    certified = any("certified" in r for r in rows)
    if certified:
        sigma = next(r["certified"]["sigma"] for r in rows if "certified" in r)
        table.add_column(f"smoothed (sigma {sigma:g}): certified L2 radius")
    for row in rows:
        cells = [row["input"], ", ".join(f"{t['label']} ({t['probability']:.3f})" for t in row["top"])]
        if sets:
            cells.append("{" + ", ".join(row.get("set", [])) + "}")
        if calibrated:
            cells.append(f"unfamiliar (score {row['score']:.2f})" if row["unfamiliar"] else "yes")
        if certified:
            c = row["certified"]
            cells.append("abstains" if c["abstained"] else f"{c['label']} within {c['radius']:.3f}")
        table.add_row(*cells)
    return table


def audit_table(report: dict[str, Any]) -> Table:
    """Robust accuracy per attack (rows) and epsilon (columns), worst case last."""
    text = report.get("modality") == "text"
    table = Table(title=f"robust accuracy (n = {report['n']}, clean {report['clean_accuracy']:.3f})")
    table.add_column("attack", no_wrap=True)
    keys = [f"{e:.6g}" for e in report["eps"]]
    for e in report["eps"]:
        table.add_column(f"{e:.3g}" if text else f"{e * 255:.3g}/255", justify="right")
    table.add_column("seconds", justify="right")
    for name, by_eps in report["attacks"].items():
        seconds = sum(by_eps[k]["seconds"] for k in keys)
        table.add_row(name, *[f"{by_eps[k]['robust_accuracy']:.3f}" for k in keys], f"{seconds:.1f}")
    table.add_row("worst case", *[f"{report['worst_case'][k]['robust_accuracy']:.3f}" for k in keys], "")
    batch = report.get("batch")
    if batch:
        table.caption = f"batches of {batch['size']} on {batch['device']} ({batch['why']})"
    return table


def text_attack_table(report: dict[str, Any]) -> Table:
    """Text audits: success rate, words changed and queries per attack at the largest budget."""
    last = f"{report['eps'][-1]:.6g}"
    table = Table(title=f"text attacks at budget {last}")
    for col in ("attack", "success rate", "words changed", "queries / example", "relative norm"):
        table.add_column(col, justify="left" if col == "attack" else "right", no_wrap=col == "attack")
    for name, by_eps in report["attacks"].items():
        s = by_eps[last]
        table.add_row(name, f"{s['success_rate']:.3f}", f"{s['mean_words_changed']:.2f}",
                      f"{s['mean_queries']:.1f}", f"{s['mean_relative_norm']:.3f}")
    return table


def ranking_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """compare: rank, candidate, validation accuracy and F1, epochs, parameters, seconds."""
    table = Table(title=title)
    for col in ("rank", "candidate", "val acc", "val F1", "best epoch", "trainable", "train s"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    for r in rows:
        name = r["candidate"] if r["bundle"] is not None else f"baseline: {r['model']}"
        table.add_row(str(r["rank"]), name, f"{r['val_accuracy']:.4f}", f"{r['val_macro_f1']:.4f}",
                      str(r["best_epoch"] or "-"), f"{r['trainable_params'] or 0:,}", f"{r['train_s']:.1f}")
    return table


def certified_table(certified: dict[str, Any]) -> Table:
    """audit --certify: per L2 radius, the certified accuracy (a lower bound) and PGD-L2's against the same
    smoothed classifier (an upper bound), with the L-inf radius the L2 one implies."""
    table = Table(title=f"randomized smoothing (sigma {certified['sigma']:g}, n = {certified['n']}, "
                        f"{certified['abstained']} of {certified['inputs']} abstained)")
    pixels = certified.get("linf_radii") is not None
    first = "L2 radius" if pixels else "L2 radius (token embeddings)"
    for col in (first, "certified", "empirical (PGD-L2)", *(["L-inf implied (weaker)"] if pixels else [])):
        table.add_column(col, justify="right")
    linf = certified["linf_radii"] if pixels else [None] * len(certified["radii"])
    for r, low, high, li in zip(certified["radii"], certified["certified_accuracy"],
                                certified["empirical_accuracy"], linf, strict=True):
        table.add_row(f"{r:g}", f"{low:.3f}", f"{high:.3f}", *([f"{li * 255:.2f}/255"] if pixels else []))
    table.caption = f"sigma: {certified['sigma_source']}" if certified.get("sigma_source") else None
    return table


def issues_table(rows: list[dict[str, Any]], total: int) -> Table:
    """labels: the likely label issues, most likely first."""
    table = Table(title=f"likely label issues (top {len(rows)} of {total})")
    for col in ("rank", "id", "split", "given", "suggested", "p(given)", "example"):
        table.add_column(col, justify="right" if col in ("rank", "p(given)") else "left",
                         overflow="ellipsis", no_wrap=col == "example",
                         max_width=48 if col == "example" else None)
    for r in rows:
        table.add_row(str(r["rank"]), r["id"], r["split"], r["given"], r["suggested"],
                      f"{r['self_confidence']:.3f}", r["example"])
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


def trust_table(trust: dict[str, Any]) -> Table:
    """evaluate: calibration (ECE and NLL, raw and calibrated), prediction sets (coverage, mean size),
    and the share of inputs flagged unfamiliar."""
    table = Table(title="trust")
    for col in ("measure", "raw", "calibrated"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    c = trust.get("calibration")
    if c:
        table.add_row("ECE (15 bins)", f"{c['ece_raw']:.4f}", f"{c['ece']:.4f}")
        table.add_row("NLL", f"{c['nll_raw']:.4f}", f"{c['nll']:.4f}")
        table.add_row("temperature", "1", f"{c['temperature']:.3g}")
    sets = trust.get("conformal")
    if sets:
        table.add_row(f"set coverage (target {sets['coverage_target']:.0%})", "", f"{sets['coverage']:.3f}")
        table.add_row("mean set size", "", f"{sets['mean_size']:.2f}")
    u = trust.get("unfamiliar", {})
    if "flagged" in u:
        table.add_row("flagged unfamiliar", "", f"{u['flagged']:.1%}")
    if "auroc" in u:
        table.add_row(f"vs {u['against']}: AUROC ({u.get('score', 'energy')})", "", f"{u['auroc']:.3f}")
        table.add_row("  FPR at 95% TPR", "", f"{u['fpr_at_95_tpr']:.3f}")
        if "flagged_there" in u:
            table.add_row("  flagged there", "", f"{u['flagged_there']:.1%}")
    return table
