"""How the CLI shows a job's result: a view per built-in kind; any other kind (a plugin's) shows the
paths and figures of its result; ``--json`` prints the result as JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from plugins import jsonio
from robustune.cli.render import (
    audit_table,
    certified_table,
    console,
    issues_table,
    metrics_table,
    per_class_table,
    predictions_table,
    ranking_table,
    recommend_table,
    text_attack_table,
    trust_table,
)
from robustune.jobs import Job

View = Callable[[Any, Any], None]  # (spec, result) -> printed
VIEWS: dict[str, View] = {}
JSON_VIEWS: dict[str, Callable[[Any], Any]] = {  # what --json prints, where it is not the whole result
    "evaluate": lambda r: {"split": r.split, **r.metrics, "batch": r.batch},
    "predict": lambda r: r.rows,
}


def view(kind: str) -> Callable[[View], View]:
    """Register the view of a job kind's result."""
    def register(fn: View) -> View:
        VIEWS[kind] = fn
        return fn

    return register


def show(job: Job, spec: Any, result: Any, as_json: bool = False) -> None:
    """Print ``result`` of ``job``: its view, or its files and figures; JSON with ``as_json``."""
    if as_json:
        data = JSON_VIEWS[job.kind](result) if job.kind in JSON_VIEWS else result.to_json()
        print(jsonio.dumps(data))
        return
    VIEWS.get(job.kind, generic)(spec, result)


def generic(spec: Any, result: Any) -> None:
    """A result's paths and numbers, one line each (nested values as JSON)."""
    for key, value in result.to_json().items():
        if value in (None, [], {}):
            continue
        text = value if isinstance(value, str | int | float | bool) else jsonio.dumps(value)
        console.print(f"{key}: {text}", soft_wrap=True, markup=False, highlight=False)


@view("train")
def _train(spec: Any, result: Any) -> None:
    used = result.config
    console.print(metrics_table(f"{used.backbone} + {used.adapter} ({used.recipe})", result.metrics,
                                getattr(result, "baseline", None)))
    console.print(f"bundle: {result.bundle}", soft_wrap=True)


def show_audit(report: dict[str, Any], folder: Path) -> None:
    """The robust-accuracy table, the text-attack table, the flags and the files."""
    console.print(audit_table(report))
    if report["modality"] == "text":
        console.print(text_attack_table(report))
    for flag in report["flags"]:
        console.print(f"[bold yellow]flag[/] {flag['code']}: {flag['message']}")
    if not report["flags"]:
        console.print("sanity flags: none raised")
    if "certified" in report:
        console.print(certified_table(report["certified"]))
    examples = "adversarial_texts.json" if report["modality"] == "text" else "adversarial.safetensors"
    band = ", certified_band.png/.svg" if "certified" in report else ""
    console.print(f"audit: {folder}/audit.json, robustness_curve.png/.svg{band}, {examples}", soft_wrap=True)


@view("audit")
def _audit(spec: Any, result: Any) -> None:
    show_audit(result.report, result.out)


def show_run(result: Any, title: str) -> None:
    """Steps done earlier, the metrics and audit tables of the steps that ran, and the paths."""
    for step in result.skipped:
        where = {"train": result.bundle, "audit": result.audit, "report": result.report,
                 "labels": result.labels}[step]
        console.print(f"{step}: done earlier ({where})", soft_wrap=True)
    if "train" in result.ran:
        console.print(metrics_table(title, result.metrics))
    if "audit" in result.ran:
        show_audit(result.audit_report, result.audit)
    labels = f"\nlabels: {result.labels}" if result.labels else ""
    console.print(f"bundle: {result.bundle}{labels}\naudit: {result.audit}\nreport: {result.report}",
                  soft_wrap=True)


@view("run")
def _run(spec: Any, result: Any) -> None:
    show_run(result, f"{spec.run.backbone} + {spec.run.adapter}")


@view("compare")
def _compare(spec: Any, result: Any) -> None:
    console.print(ranking_table("validation ranking", result.rows))
    held = result.holdout
    if result.rows[0]["bundle"] is None:
        console.print(f"the classical baseline ({result.rows[0]['model']}) ranks first: no candidate beats "
                      "it on validation", soft_wrap=True)
    winner = next(r for r in result.rows if r["bundle"] is not None)
    console.print(f"winner: {winner['candidate']}  holdout accuracy {held['accuracy']:.4f}, "
                  f"macro F1 {held['macro_f1']:.4f} (holdout touched once)")
    files = ", ".join(str(f) for f in result.files)
    console.print(f"bundle: {result.winner}\nfiles: {files}", soft_wrap=True)


@view("tune")
def _tune(spec: Any, result: Any) -> None:
    pruned = sum(1 for t in result.trials if t["state"] == "pruned")
    console.print(f"{len(result.trials)} trials ({pruned} pruned); best validation accuracy "
                  f"{result.best_value:.4f} with {result.best_params}", soft_wrap=True)
    console.print(f"retrained best: holdout accuracy {result.holdout['accuracy']:.4f}, macro F1 "
                  f"{result.holdout['macro_f1']:.4f} (holdout touched once)")
    files = ", ".join(str(f) for f in result.files)
    console.print(f"bundle: {result.bundle}\nfiles: {files}", soft_wrap=True)


@view("recommend")
def _recommend(spec: Any, result: Any) -> None:
    prof = result.profile
    if prof.image_size:
        size = f"images ~{prof.image_size}px"
    elif prof.text_chars and prof.text_words <= 2 and prof.text_chars > 10:  # a script without spaces
        size = f"texts ~{prof.text_chars:.0f} characters (no spaces between words)"
    else:
        size = f"texts ~{prof.text_words:.0f} words"
    console.print(f"{prof.modality} data: {prof.train} training examples, {prof.classes} classes, fewest "
                  f"{prof.min_per_class} per class, {size}", soft_wrap=True)
    from finetune.data.unknown_tokens import unknown_warning

    warning = unknown_warning(prof.unknown or 0.0, "these texts")
    if warning:
        console.print(f"warning: {warning}", soft_wrap=True)
    console.print(recommend_table(result.suggestions, result.budget_s))
    top = next(s for s in result.suggestions if s.model != "baseline")
    if result.suggestions[0].model == "baseline":
        console.print(f"the classical baseline comes first: {result.suggestions[0].reason}", soft_wrap=True)
    console.print(f"next: robustune train --data {spec.options['data']} --model {top.model} --adapter "
                  f"{top.adapter}", soft_wrap=True)


@view("labels")
def _labels(spec: Any, result: Any) -> None:
    console.print(issues_table(result.rows[:20], len(result.rows)))
    console.print(f"{result.flagged} of {result.examples} labels look wrong ({result.method}); near-copies "
                  f"across splits: {dict(result.duplicates) or 'none'}", soft_wrap=True)
    console.print(f"edit {result.out / 'labels.csv'} (delete the rows you disagree with, fix suggested), "
                  f"then: robustune train ... --relabel {result.out / 'labels.csv'} (or --drop)",
                  soft_wrap=True)
    console.print(f"files: {', '.join(str(f) for f in result.files)}", soft_wrap=True)


@view("evaluate")
def _evaluate(spec: Any, result: Any) -> None:
    console.print(metrics_table(f"{result.bundle}", {result.split: result.metrics}))
    console.print(per_class_table(result.metrics))
    if "trust" in result.metrics:
        console.print(trust_table(result.metrics["trust"]))


@view("calibrate")
def _calibrate(spec: Any, result: Any) -> None:
    c, sets, u = result.trust["calibration"], result.trust["conformal"], result.trust["unfamiliar"]
    console.print(f"{result.bundle}: fitted on {result.trust['fitted_on']['n']} {result.examples} examples; "
                  f"temperature {c['temperature']:.3g} (ECE {c['ece_before']:.4f} -> {c['ece_after']:.4f} on "
                  f"these examples); sets at {sets['coverage']:.0%} from {len(sets['scores'])} "
                  f"scores ({sets['score']}); unfamiliar above {u.get('score', 'energy')} "
                  f"{u['threshold']:.3g}",
                  soft_wrap=True)


@view("predict")
def _predict(spec: Any, result: Any) -> None:
    console.print(predictions_table(result.rows))


@view("import")
def _import(spec: Any, result: Any) -> None:
    console.print(f"bundle: {result.bundle}", soft_wrap=True)


@view("export")
def _export(spec: Any, result: Any) -> None:
    check = result.check
    console.print(f"{result.format}: {result.path} ({', '.join(result.files)})", soft_wrap=True)
    console.print(f"checked with {check['runtime']} on {check['inputs']} inputs: largest |logit difference| "
                  f"{check['max_abs_diff']:.1e}", soft_wrap=True)


@view("explain")
def _explain(spec: Any, result: Any) -> None:
    for row in result.rows:
        what = row.get("input") or row["text"]
        extra = f"  top words: {', '.join(row['top_words'])}" if "top_words" in row else ""
        console.print(f"{what}: {row['explained_class']} (predicted {row['prediction']}, "
                      f"p = {row['probability']:.2f}){extra}", soft_wrap=True, markup=False)
    page = "explanations.html" if result.rows and "text" in result.rows[0] else "overlay PNGs"
    console.print(f"explanations: {result.out} ({page}, explanations.json)", soft_wrap=True)


@view("report")
def _report(spec: Any, result: Any) -> None:
    for path in result.files:
        console.print(f"report: {path}", soft_wrap=True)


@view("demo")
def _demo(spec: Any, result: Any) -> None:
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
    console.print(f"open the reports in a browser; bundles and audits are next to them in {spec.out}",
                  soft_wrap=True)
