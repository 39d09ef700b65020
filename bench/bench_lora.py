"""MiniLM with LoRA against MiniLM fully fine-tuned, Rotten Tomatoes, 5,000 labeled training reviews.

Run: .venv/bin/python bench/bench_lora.py
Target: lora holdout accuracy within 2 points of full fine-tuning (the baseline, trained in the
same run on the same split) while training under 5% of the parameters (counts printed).
"""

from __future__ import annotations

from typing import Any

import common
from common import WORK, write_results

SHARED = {"data": "rotten-tomatoes", "model": "bert", "per_class": 3125, "val_fraction": 0.2,
          "test_fraction": 0.2, "seed": 0, "max_length": 64, "epochs": 2, "lr": 1e-3, "patience": 1,
          "overwrite": True}
RUNS: dict[str, dict[str, Any]] = {
    "full": {"adapter": "full", "backbone_lr_mult": 0.05},
    "lora": {"adapter": "lora", "lora_r": 8, "lora_alpha": 16, "lora_targets": "query,key,value,dense"},
}


def main() -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options
    from plugins.bundle import load_bundle

    rows = []
    for name, opts in RUNS.items():
        cfg = from_options({**SHARED, **opts, "out": str(WORK / f"lora-{name}")})
        result = run_training(cfg)
        test = result.metrics["test"]
        total = sum(p.numel() for p in load_bundle(result.bundle).model.parameters())
        rows.append({"adapter": name, "train": result.split_sizes["train"], "val": result.split_sizes["val"],
                     "holdout": test["n"], "holdout_accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
                     "trainable_params": result.trainable_params, "total_params": total,
                     "trainable_pct": round(100 * result.trainable_params / total, 2),
                     "best_epoch": result.history.best_epoch, "train_s": round(result.seconds["train"], 1)})
        print(rows[-1], flush=True)
    full, lora = rows
    gap = full["holdout_accuracy"] - lora["holdout_accuracy"]
    checks = {f"lora within 2 points of full: {lora['holdout_accuracy']:.4f} vs "
              f"{full['holdout_accuracy']:.4f} "
              f"(gap {100 * gap:+.2f} points)": gap <= 0.02,
              f"lora trains {lora['trainable_params']:,} of {lora['total_params']:,} parameters "
              f"({lora['trainable_pct']}%) < 5%": lora["trainable_pct"] < 5}
    notes = ["6,250 labeled reviews (3,125 per class, drawn after the holdout): 5,000 train, "
             "1,250 validation",
             "holdout: a stratified 20% of all 12,808 reviews (seed 0)",
             "both: 2 epochs, max length 64, head learning rate 1e-3; full trains the encoder at 5e-5",
             "lora: rank 8, alpha 16 on every attention and feed-forward Linear of the encoder (PEFT), "
             "learning rate 1e-3, merged into the bundle's plain weights after training"]
    write_results("lora", "python bench/bench_lora.py", rows, checks, notes)


if __name__ == "__main__":
    common.machine()
    main()
