"""MiniLM (packaged all-MiniLM-L6-v2) on Rotten Tomatoes, 1,000 labeled reviews: probe vs full.

Run: .venv/bin/python bench/bench_text.py   (targets: linear-probe >= 0.74, full >= 0.76)
"""

from __future__ import annotations

import common  # noqa: F401
from common import compare_adapters

SHARED = {"data": "rotten-tomatoes", "backbone": "bert", "per_class": 500, "val_fraction": 0.2,
          "test_fraction": 0.2, "seed": 0, "max_length": 64, "overwrite": True}
RUNS = {
    "linear-probe": {"adapter": "linear-probe", "epochs": 60, "lr": 3e-3, "weight_decay": 0.01,
                     "patience": 10},
    "full": {"adapter": "full", "epochs": 4, "lr": 1e-3, "backbone_lr_mult": 0.05, "patience": 2},
}
TARGETS = {"linear-probe": 0.74, "full": 0.76}


def main() -> None:
    notes = ["1,000 labeled reviews = 500 per class (800 train, 200 validation)",
             "holdout: a stratified 20% of all 12,808 reviews, drawn before the labeled set (seed 0)"]
    compare_adapters("text_finetune", "python bench/bench_text.py", SHARED, RUNS, TARGETS, notes)


if __name__ == "__main__":
    main()
