"""Linear probe with cached features vs the naive loop that re-runs the frozen backbone each epoch.

Run: .venv/bin/python bench/bench_cache.py   (targets: >= 10x less wall-clock, accuracy within 1 point)
Both train the same head from the same initialization for 20 epochs on the same data and order.
"""

from __future__ import annotations

import copy
import statistics
import time

import common  # noqa: F401
import torch
from common import write_results

from finetune.adapters.base import TrainPlan
from finetune.adapters.config import AdapterConfig
from finetune.config import TrainConfig
from finetune.data.config import SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.inference import compute_features, evaluate
from finetune.preprocess import prepare_inputs
from finetune.trainer import Trainer
from plugins.backbones import BackboneConfig
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry

REPEATS = 3
CFG = TrainConfig(epochs=20, patience=20, lr=1e-3, seed=0)
CPU = torch.device("cpu")


def cached(model, head0, tr, va, splits):  # type: ignore[no-untyped-def]
    model.head.load_state_dict(head0)
    plan = registry.get("adapter", "linear-probe").plan(model, CFG.lr, AdapterConfig())
    start = time.perf_counter()
    tr_f, va_f = compute_features(model, tr), compute_features(model, va)
    Trainer(plan, CFG, CPU, 10).fit(tr_f, splits.train.labels, va_f, splits.val.labels)
    return time.perf_counter() - start


def naive(model, head0, tr, va, splits):  # type: ignore[no-untyped-def]
    model.head.load_state_dict(head0)
    plan = TrainPlan(model, [{"params": list(model.head.parameters()), "lr": CFG.lr}],
                     frozen=[model.backbone])
    start = time.perf_counter()
    Trainer(plan, CFG, CPU, 10).fit(tr, splits.train.labels, va, splits.val.labels)
    return time.perf_counter() - start


def main() -> None:
    splits = make_splits(load_data("fashion-mnist"), SplitConfig(per_class=100, test_per_class=100))
    model = build_classifier(ModelSpec("efficientnet_lite0", 10, BackboneConfig(image_size=96)))
    model.to(memory_format=torch.channels_last)
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    pre = model.backbone.preprocessing()
    tr, va, te = (prepare_inputs(getattr(splits, s), pre) for s in ("train", "val", "test"))
    head0 = copy.deepcopy(model.head.state_dict())
    times: dict[str, list[float]] = {"cached": [], "naive": []}
    accs: dict[str, float] = {}
    for _ in range(REPEATS):  # interleaved, so machine noise hits both alike
        for name, fn in (("cached", cached), ("naive", naive)):
            times[name].append(fn(model, head0, tr, va, splits))
            accs[name] = evaluate(model, te, splits.test.labels, splits.test.classes)["accuracy"]
            print(name, times[name][-1], accs[name], flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["naive"] / med["cached"]
    rows = [{"loop": k, "median_s": round(med[k], 2), "runs_s": [round(t, 2) for t in times[k]],
             "holdout_accuracy": accs[k]} for k in ("cached", "naive")]
    gap = abs(accs["cached"] - accs["naive"]) * 100
    checks = {f"naive / cached wall-clock = {ratio:.1f}x >= 10x": ratio >= 10,
              f"accuracy gap {gap:.2f} points <= 1": gap <= 1}
    notes = [f"efficientnet_lite0 at 96 px, Fashion-MNIST 100 per class (train {len(splits.train)}, "
             f"val {len(splits.val)}), holdout {len(splits.test)}; 20 epochs each, {REPEATS} runs, medians",
             "cached time includes computing the features once"]
    write_results("feature_cache", "python bench/bench_cache.py", rows, checks, notes)


if __name__ == "__main__":
    main()
