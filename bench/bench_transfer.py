"""A real transfer through a local weights file: ResNet-18 trained briefly on Fashion-MNIST,
saved as safetensors (a robustune bundle's model.safetensors), then fine-tuned on digits with 20
labels per class, against the same run from --weights none.

Run: .venv/bin/python bench/bench_transfer.py   (target: transfer beats none on the holdout)
"""

from __future__ import annotations

import statistics

import common  # noqa: F401
from common import WORK, write_results

from finetune.driver import run_training
from finetune.run_config import from_options

SEEDS = (0, 1, 2, 3, 4)
SOURCE = {"data": "fashion-mnist", "backbone": "resnet18", "weights": "none", "adapter": "full",
          "image_size": 32, "per_class": 1000, "test_per_class": 100, "epochs": 3, "lr": 3e-3,
          "backbone_lr_mult": 1.0, "batch_size": 64, "overwrite": True}
TARGET = {"data": "digits", "backbone": "resnet18", "adapter": "full", "image_size": 32,
          "per_class": 20, "epochs": 30, "lr": 3e-3, "backbone_lr_mult": 1.0, "patience": 8,
          "overwrite": True}


def main() -> None:
    source = run_training(from_options({**SOURCE, "out": str(WORK / "transfer-source")}))
    weights = source.bundle / "model.safetensors"
    print("source holdout", source.metrics["test"]["accuracy"], flush=True)
    acc: dict[str, list[float]] = {"file": [], "none": []}
    for seed in SEEDS:
        for name, src in (("file", str(weights)), ("none", "none")):
            cfg = from_options({**TARGET, "weights": src, "seed": seed,
                                "out": str(WORK / f"transfer-{name}-{seed}")})
            acc[name].append(run_training(cfg).metrics["test"]["accuracy"])
            print(name, seed, acc[name][-1], flush=True)
    med = {k: statistics.median(v) for k, v in acc.items()}
    rows = [{"weights": f"{k} ({'Fashion-MNIST ResNet-18 safetensors' if k == 'file' else 'random init'})",
             "holdout_accuracy_median": med[k], "per_seed": [round(a, 4) for a in acc[k]]}
            for k in ("file", "none")]
    wins = sum(f > n for f, n in zip(acc["file"], acc["none"], strict=True))
    checks = {f"transfer {med['file']:.4f} > none {med['none']:.4f} (median of {len(SEEDS)} seeds)":
              med["file"] > med["none"]}
    notes = [f"source: ResNet-18 from scratch on 10,000 Fashion-MNIST images, 3 epochs, 32 px "
             f"(its holdout accuracy {source.metrics['test']['accuracy']:.3f})",
             "target: digits, 20 labels per class (16 train + 4 val), holdout a stratified 20% "
             "(359 images), full fine-tuning, same settings and seed for both",
             f"transfer wins on {wins} of {len(SEEDS)} seeds"]
    write_results("transfer", "python bench/bench_transfer.py", rows, checks, notes)


if __name__ == "__main__":
    main()
