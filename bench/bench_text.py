"""MiniLM (packaged all-MiniLM-L6-v2) on Rotten Tomatoes, 1,000 labeled reviews: probe vs full.

Run: .venv/bin/python bench/bench_text.py   (targets: linear-probe >= 0.74, full >= 0.76)
"""

from __future__ import annotations

import common  # noqa: F401
from common import WORK, write_results

from finetune.recipes.supervised import run_training
from finetune.run_config import from_options

SHARED = {"data": "rotten-tomatoes", "backbone": "bert", "per_class": 500, "val_fraction": 0.2,
          "test_fraction": 0.2, "seed": 0, "max_length": 64, "overwrite": True}
RUNS = {
    "linear-probe": {"adapter": "linear-probe", "epochs": 60, "lr": 3e-3, "weight_decay": 0.01,
                     "patience": 10},
    "full": {"adapter": "full", "epochs": 4, "lr": 1e-3, "backbone_lr_mult": 0.05, "patience": 2},
}
TARGETS = {"linear-probe": 0.74, "full": 0.76}


def main() -> None:
    rows = []
    for name, opts in RUNS.items():
        cfg = from_options({**SHARED, **opts, "out": str(WORK / f"text-{name}")})
        result = run_training(cfg, progress=False)
        test = result.metrics["test"]
        rows.append({"adapter": name, "train": result.split_sizes["train"], "val": result.split_sizes["val"],
                     "holdout": test["n"], "holdout_accuracy": test["accuracy"],
                     "macro_f1": test["macro_f1"], "best_epoch": result.history.best_epoch,
                     "train_s": round(result.seconds["train"] + result.seconds.get("feature_cache", 0), 1)})
        print(rows[-1], flush=True)
    checks = {f"{r['adapter']} holdout accuracy {r['holdout_accuracy']:.4f} >= {TARGETS[r['adapter']]}":
              r["holdout_accuracy"] >= TARGETS[r["adapter"]] for r in rows}
    notes = ["1,000 labeled reviews = 500 per class (800 train, 200 validation)",
             "holdout: a stratified 20% of all 12,808 reviews, drawn before the labeled set (seed 0)"]
    write_results("text_finetune", "python bench/bench_text.py", rows, checks, notes)


if __name__ == "__main__":
    main()
