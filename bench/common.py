"""Shared benchmark plumbing: offline env, results files (JSON + Markdown) written atomically."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.atomic import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(__file__).resolve().parent / "out"


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available(), "date": time.strftime("%Y-%m-%d %H:%M")}


def write_results(name: str, command: str, rows: list[dict[str, Any]], checks: dict[str, bool],
                  notes: list[str]) -> None:
    """``bench/results/NAME.json`` and ``NAME.md`` with a table, the checks and the command."""
    payload = {"benchmark": name, "command": command, "machine": machine(), "rows": rows,
               "checks": checks, "notes": notes}
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(payload, indent=2))
    markdown = render_markdown(payload)
    atomic_write_text(RESULTS / f"{name}.md", markdown)
    print(markdown)


WIDE = 12  # columns a results table keeps before it is drawn one row per measure


def render_markdown(payload: dict[str, Any]) -> str:
    """The Markdown form of a results file: table, checks, notes, where it ran."""
    rows = payload["rows"]
    cols = list(dict.fromkeys(c for row in rows for c in row))  # every row's keys, first seen first
    lines = [f"### {payload['benchmark']}", "", f"`{payload['command']}`", ""]
    if len(cols) > WIDE and len(rows) <= WIDE:  # many measures of a few models: one row per measure
        lines += ["| " + " | ".join([cols[0], *(_fmt(r.get(cols[0], "")) for r in rows)]) + " |",
                  "|" + "---|" * (len(rows) + 1)]
        lines += ["| " + " | ".join([c, *(_fmt(r.get(c, "-")) for r in rows)]) + " |" for c in cols[1:]]
    else:
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in rows:
            lines.append("| " + " | ".join(_fmt(row.get(c, "-")) for c in cols) + " |")
    lines += [""] + [f"- {'PASS' if ok else 'FAIL'}: {check}" for check, ok in payload["checks"].items()]
    lines += [f"- note: {n}" for n in payload["notes"]]
    m = payload["machine"]
    lines.append(f"- measured {m['date']} on {m['cpu_count']} CPU cores (torch {m['torch']}, "
                 f"{m['torch_threads']} threads)")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def compare_adapters(name: str, command: str, shared: dict[str, Any], runs: dict[str, dict[str, Any]],
                     targets: dict[str, float], notes: list[str]) -> None:
    """Train each adapter of ``runs`` on the same data and split; check holdout accuracy targets."""
    from finetune.driver import run_training
    from finetune.run_config import from_options

    rows = []
    for adapter, opts in runs.items():
        cfg = from_options({**shared, **opts, "out": str(WORK / f"{name}-{adapter}")})
        result = run_training(cfg)
        test = result.metrics["test"]
        seconds = result.seconds["train"] + result.seconds.get("feature_cache", 0.0)
        rows.append({"adapter": adapter, **{k: v for k, v in opts.items() if k == "image_size"},
                     "train": result.split_sizes["train"], "val": result.split_sizes["val"],
                     "holdout": test["n"], "holdout_accuracy": test["accuracy"],
                     "macro_f1": test["macro_f1"], "best_epoch": result.history.best_epoch,
                     "train_s": round(seconds, 1)})
        print(rows[-1], flush=True)
    checks = {f"{r['adapter']} holdout accuracy {r['holdout_accuracy']:.4f} >= {targets[r['adapter']]}":
              r["holdout_accuracy"] >= targets[r["adapter"]] for r in rows}
    write_results(name, command, rows, checks, notes)
