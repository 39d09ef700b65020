"""``compare``: train every candidate on one split, rank on validation, touch the holdout once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.evaluation import evaluate_bundle
from finetune.run_config import from_options
from finetune.selection.candidates import Candidate, slug
from finetune.selection.curves import plot_curves
from plugins import jsonio
from plugins.atomic import atomic_write_text, check_writable_target
from plugins.bundle import load_bundle
from plugins.events import Events, Reporter, reporter
from plugins.records import Result

RESULT_FILE = "compare.json"


@dataclass
class CompareResult(Result):
    """Ranked rows (best first), the winner's bundle and its holdout metrics, the files written."""

    rows: list[dict[str, Any]]
    winner: Path
    holdout: dict[str, Any]
    files: list[Path]


def run_compare(options: dict[str, Any], candidates: list[Candidate], out: Path, overwrite: bool = False,
                events: Events | Reporter | None = None) -> CompareResult:
    """Train each candidate with the shared ``options`` (same data, split and seed) into OUT/NAME."""
    from finetune.driver import run_training

    report = reporter(events)
    check_writable_target(out / RESULT_FILE, overwrite)
    configs = [from_options({**options, "backbone": c.model, "adapter": c.adapter,
                             "out": str(out / slug(c.label)), "overwrite": True}) for c in candidates]
    rows, curves = [], {}
    for i, (cand, cfg) in enumerate(zip(candidates, configs, strict=True)):
        report.progress("candidates", i, len(candidates), cand.label)
        start = time.perf_counter()
        result = run_training(cfg, events=report.part(i, len(candidates)), holdout=False)
        val = result.metrics["val"]
        curves[cand.label] = [h["val_accuracy"] for h in result.history.epochs]
        rows.append({"candidate": cand.label, "model": cand.model, "adapter": result.config.adapter,
                     "recipe": result.config.recipe, "val_accuracy": val["accuracy"],
                     "val_macro_f1": val["macro_f1"], "best_epoch": result.history.best_epoch,
                     "trainable_params": result.trainable_params,
                     "train_s": round(time.perf_counter() - start, 1),
                     "bundle": str(result.bundle)})
        if i == 0 and result.baseline:  # every candidate shares the split: one baseline ranks beside them
            base = result.baseline
            rows.append({"candidate": "baseline", "model": base["name"], "adapter": "", "recipe": "",
                         "val_accuracy": base["val_accuracy"], "val_macro_f1": base["val_macro_f1"],
                         "best_epoch": None, "trainable_params": None, "train_s": round(base["seconds"], 1),
                         "bundle": None})
    report.progress("candidates", len(candidates), len(candidates))
    rows.sort(key=lambda r: (-r["val_accuracy"], -r["val_macro_f1"], r["train_s"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    models = [r for r in rows if r["bundle"] is not None]
    winner = Path(models[0]["bundle"])
    first = configs[0]
    used, holdout, *_ = evaluate_bundle(load_bundle(winner), first.data, "holdout", first.data_options,
                                       first.train.precision)
    files = plot_curves(curves, out / "validation_curves.png", "compare: validation accuracy per epoch")
    note = "ranked on validation; only the winner was evaluated on the holdout"
    if rows[0]["bundle"] is None:
        note += (f"; the classical baseline ({rows[0]['model']}) ranks first: no candidate beats it on "
                 "validation")
    payload = {"data": configs[0].data, "ranking": rows, "winner": models[0]["candidate"],
               "winner_bundle": str(winner), "holdout": {"split": used, **holdout}, "note": note}
    atomic_write_text(out / RESULT_FILE, jsonio.dumps(payload))
    return CompareResult(rows, winner, holdout, [out / RESULT_FILE, *files])
