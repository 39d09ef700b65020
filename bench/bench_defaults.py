"""Good results without flags: each model's own training defaults against the hand-picked settings.

Run: .venv/bin/python bench/bench_defaults.py
Each "defaults" run passes only what a user types without training flags (data, model, adapter,
out; the seed for the three digits seeds), i.e. `robustune train --data digits --model cnn`.
Targets: digits (median of seeds 0, 1, 2) cnn >= 0.98, lstm >= 0.96, rnn >= 0.93, dbn >= 0.95;
EfficientNet-Lite0 full on Fashion-MNIST 200 per class >= 0.88; MiniLM full on Rotten Tomatoes
1,000 >= 0.76; every defaults run takes at most 1.5x the hand-picked settings' time. Baselines in
the same run: `--defaults generic` (the settings every model got before) and the hand-picked
settings of the benchmarks (bench_zoo_digits.py, bench_image.py, bench_text.py); where the defaults
resolve to exactly the hand-picked settings one run serves both, and the table says so.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict
from typing import Any

import common
from bench_image import RUNS as IMAGE_RUNS
from bench_image import SHARED as IMAGE_SHARED
from bench_text import RUNS as TEXT_RUNS
from bench_text import SHARED as TEXT_SHARED
from bench_zoo_digits import RUNS as DIGIT_RUNS
from common import WORK, write_results

SEEDS = (0, 1, 2)
IMAGE_USER = {"data": "fashion-mnist", "model": "efficientnet_lite0", "per_class": 200}
TEXT_USER = {"data": "rotten-tomatoes", "model": "bert", "per_class": 500}
CASES: list[dict[str, Any]] = [
    *({"name": m, "user": {"data": "digits", "model": m}, "seeds": SEEDS,
       "hand": {"data": "digits", **DIGIT_RUNS[m]}, "target": t, "generic": True}
      for m, t in (("cnn", 0.98), ("lstm", 0.96), ("rnn", 0.93), ("dbn", 0.95))),
    {"name": "efficientnet_lite0 full, fashion-mnist 200/class", "user": {**IMAGE_USER, "adapter": "full"},
     "seeds": (0,), "hand": {**IMAGE_SHARED, **IMAGE_RUNS["full"]}, "target": 0.88, "generic": False},
    {"name": "MiniLM full, rotten-tomatoes 1,000", "user": {**TEXT_USER, "adapter": "full"}, "seeds": (0,),
     "hand": {**TEXT_SHARED, **TEXT_RUNS["full"]}, "target": 0.76, "generic": False},
]
IGNORED = {"out", "overwrite", "model_defaults", "defaults"}  # what may differ between identical runs


def _config(opts: dict[str, Any], seed: int, tag: str) -> Any:
    from finetune.run_config import from_options

    return from_options({**opts, "seed": seed, "overwrite": True, "out": str(WORK / f"defaults-{tag}")})


def _settings(cfg: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(cfg).items() if k not in IGNORED}


def _train(cfg: Any) -> tuple[float, float, int]:
    from finetune.driver import run_training

    start = time.perf_counter()
    result = run_training(cfg)
    return result.metrics["test"]["accuracy"], time.perf_counter() - start, result.split_sizes["train"]


def _runs(opts: dict[str, Any], seeds: tuple[int, ...], tag: str) -> tuple[list[float], list[float]]:
    accs, secs = [], []
    for seed in seeds:
        acc, sec, _ = _train(_config(opts, seed, tag))
        accs.append(acc)
        secs.append(sec)
        print(tag, seed, round(acc, 4), round(sec, 1), flush=True)
    return accs, secs


def main() -> None:
    rows, checks = [], {}
    for case in CASES:
        seeds, tag = case["seeds"], case["name"].split()[0]
        defaults_cfg = _config(case["user"], seeds[0], tag)
        same = _settings(defaults_cfg) == _settings(_config(case["hand"], seeds[0], tag))
        accs, secs = _runs(case["user"], seeds, tag)
        hand_accs, hand_secs = (accs, secs) if same else _runs(case["hand"], seeds, tag + "-hand")
        generic_opts = {**case["user"], "defaults": "generic"}
        generic = (statistics.median(_runs(generic_opts, seeds, tag + "-generic")[0]) if case["generic"]
                   else None)
        acc, sec, hand_sec = statistics.median(accs), statistics.median(secs), statistics.median(hand_secs)
        rows.append({
            "model": case["name"], "defaults taken": common_settings(defaults_cfg.model_defaults),
            "accuracy (defaults)": acc, "accuracies": ", ".join(f"{a:.4f}" for a in accs),
            "accuracy (generic)": "-" if generic is None else round(generic, 4),
            "accuracy (hand-picked)": statistics.median(hand_accs),
            "train_s (defaults)": round(sec, 1),
            "train_s (hand-picked)": "same run" if same else round(hand_sec, 1),
            "time ratio": round(sec / hand_sec, 2),
        })
        checks[f"{case['name']}: default accuracy {acc:.4f} >= {case['target']}"] = acc >= case["target"]
        checks[f"{case['name']}: default time {sec / hand_sec:.2f}x the hand-picked settings' <= 1.5x"] = \
            sec / hand_sec <= 1.5
    notes = ["defaults: only the flags in the model column (data, model, adapter, per-class) and --seed; the "
             "digits rows give the median of seeds 0, 1, 2 (split and training), the others seed 0",
             "generic: the same with --defaults generic (every model's settings before this change: 10 "
             "epochs, lr 1e-3, patience 3 then; patience now scales with the epochs)",
             "hand-picked: the settings of bench_zoo_digits.py, bench_image.py and bench_text.py; 'same run' "
             "where the defaults resolve to exactly those settings (the time ratio is 1 by construction)",
             "time: the whole train command (data, model, training, evaluation, bundle), median"]
    write_results("defaults", "python bench/bench_defaults.py", rows, checks, notes)


def common_settings(taken: dict[str, Any]) -> str:
    """``epochs 40, lr 0.003`` for the table."""
    from finetune.model_defaults import describe

    return describe(taken) or "-"


if __name__ == "__main__":
    common.machine()
    main()
