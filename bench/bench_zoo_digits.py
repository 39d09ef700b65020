"""From-scratch models on scikit-learn digits: a fixed stratified 80/20 split, median of 3 seeds.

Run: .venv/bin/python bench/bench_zoo_digits.py
Targets (holdout accuracy, median of training seeds 0, 1, 2): cnn >= 0.98, lstm >= 0.96,
rnn >= 0.93, dbn >= 0.95; gan with 10 labels per class >= 0.90 and above the same
discriminator trained on those 100 labeled images alone. Baselines in the same run: logistic
regression on the pixels, and the dbn without its RBM pretraining.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import common
from common import WORK, write_results

SPLIT = {"data": "digits", "test_fraction": 0.2, "val_fraction": 0.1, "seed": 0, "overwrite": True}
SEEDS = (0, 1, 2)
RUNS: dict[str, dict[str, Any]] = {
    "cnn": {"model": "cnn", "epochs": 40, "lr": 3e-3, "patience": 15, "label_smoothing": 0.1},
    "lstm": {"model": "lstm", "epochs": 40, "lr": 3e-3, "patience": 10},
    "rnn": {"model": "rnn", "epochs": 40, "lr": 3e-3, "patience": 10},
    "dbn": {"model": "dbn", "epochs": 60, "lr": 3e-3, "patience": 15,
            "model_options": "hidden=500-500,rbm_epochs=30,cd_k=1"},
    "dbn (no RBM pretraining)": {"model": "dbn", "recipe": "supervised", "epochs": 60, "lr": 3e-3,
                                 "patience": 15, "model_options": "hidden=500-500"},
    "gan, 10 labels/class": {"model": "gan", "epochs": 100, "lr": 3e-3, "batch_size": 100,
                             "labeled_per_class": 10},
    "gan D on the 100 labels alone": {"model": "gan", "recipe": "supervised", "epochs": 100, "lr": 3e-3,
                                      "batch_size": 100, "labeled_per_class": 10, "patience": 100},
}
TARGETS = {"cnn": 0.98, "lstm": 0.96, "rnn": 0.93, "dbn": 0.95, "gan, 10 labels/class": 0.90}


def logistic_regression() -> float:
    """Baseline: multinomial logistic regression on the same split's raw pixels."""
    from sklearn.linear_model import LogisticRegression

    from finetune.data.config import DataOptions
    from finetune.data.spec import load_data
    from finetune.data.splits import make_splits
    from finetune.run_config import from_options

    cfg = from_options({**SPLIT, "model": "cnn", "out": "unused"})
    splits = make_splits(load_data("digits", DataOptions()), cfg.split)
    x_tr = splits.train.images.flatten(1).float().numpy()  # type: ignore[union-attr]
    x_te = splits.test.images.flatten(1).float().numpy()  # type: ignore[union-attr]
    clf = LogisticRegression(max_iter=5000).fit(x_tr / 255, splits.train.labels.numpy())
    return float((clf.predict(x_te / 255) == splits.test.labels.numpy()).mean())


def main() -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    rows = []
    for name, opts in RUNS.items():
        accs, secs, result = [], [], None
        for seed in SEEDS:
            cfg = from_options({**SPLIT, **opts, "out": str(WORK / f"zoo-digits-{name.split()[0]}")})
            cfg = replace(cfg, train=replace(cfg.train, seed=seed))  # the split stays seed 0
            start = time.perf_counter()
            result = run_training(cfg)
            secs.append(time.perf_counter() - start)
            accs.append(result.metrics["test"]["accuracy"])
            print(name, seed, accs[-1], flush=True)
        assert result is not None
        row = {"model": name, "recipe": result.config.recipe, "train": result.split_sizes["train"],
               "unlabeled": result.split_sizes.get("unlabeled", 0), "holdout": result.split_sizes["test"],
               "accuracy_median": statistics.median(accs), "accuracies": ", ".join(f"{a:.4f}" for a in accs),
               "params": result.trainable_params, "train_s_median": round(statistics.median(secs), 1)}
        if "rbm" in result.extra:
            row["notes"] = "RBM recon. error " + ", ".join(
                f"{r['reconstruction_error_first']:.3f}->{r['reconstruction_error']:.3f}"
                for r in result.extra["rbm"])
        rows.append(row)
    rows.append({"model": "logistic regression (sklearn, pixels)", "recipe": "-", "train": rows[0]["train"],
                 "unlabeled": 0, "holdout": rows[0]["holdout"], "accuracy_median": logistic_regression(),
                 "accuracies": "-", "params": 650, "train_s_median": 0.0})
    for row in rows:
        row.setdefault("notes", "")
    med = {r["model"]: r["accuracy_median"] for r in rows}
    checks = {f"{m} median holdout accuracy {med[m]:.4f} >= {t}": med[m] >= t for m, t in TARGETS.items()}
    gan, alone = med["gan, 10 labels/class"], med["gan D on the 100 labels alone"]
    checks[f"gan semi-supervised {gan:.4f} > the same D on 100 labels alone {alone:.4f}"] = gan > alone
    notes = ["split: stratified 20% holdout (seed 0, fixed); the other 80% gives 10% validation (early "
             "stopping, best epoch) and the training set; training seeds 0, 1, 2",
             "gan rows: 10 labeled images per class; the semi-supervised run also sees the other training "
             "images without labels; both use the same labeled validation split to pick the epoch"]
    write_results("zoo_digits", "python bench/bench_zoo_digits.py", rows, checks, notes)


if __name__ == "__main__":
    common.machine()
    main()
