"""Integrated-gradients throughput: robustune's explainer against Captum called directly on the same
model and images, side by side.

Run: .venv/bin/python bench/bench_explain.py   Target: explain >= 0.95x Captum direct.
"""

from __future__ import annotations

import statistics
import time

import common  # noqa: F401
import torch
from bench_pgd import model_and_data
from captum.attr import IntegratedGradients
from common import write_results

from explain.base import auto_internal_batch
from explain.config import ExplainConfig
from plugins.registry import registry

N, STEPS, BATCH, REPEATS = 32, 32, 16, 5


def ours(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    cfg = ExplainConfig(n_steps=STEPS, batch_size=BATCH)
    explainer = registry.get("explainer", "integrated-gradients")(cfg)
    start = time.perf_counter()
    explainer(model, x, y)
    return time.perf_counter() - start


def direct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """What a careful user writes: Captum's IG per batch, the same internal batch, no parameter grads."""
    size = auto_internal_batch(model, x[:BATCH], STEPS)
    for p in model.parameters():
        p.requires_grad_(False)
    ig = IntegratedGradients(model)
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        xb = x[i : i + BATCH]
        ig.attribute(xb, baselines=torch.zeros_like(xb), target=y[i : i + BATCH], n_steps=STEPS,
                     internal_batch_size=size)
    seconds = time.perf_counter() - start
    for p in model.parameters():
        p.requires_grad_(True)
    return seconds


def main() -> None:
    model, x, y, path = model_and_data()
    x, y = x[:N], y[:N]
    model.eval()
    times: dict[str, list[float]] = {"robustune explain": [], "captum direct": []}
    pair = [("robustune explain", ours), ("captum direct", direct)]
    direct(model, x[:2], y[:2])  # warm-up: first-call kernel setup is not either method's cost
    for r in range(REPEATS):  # interleaved, order alternating, so machine noise hits both alike
        for name, fn in pair if r % 2 == 0 else pair[::-1]:
            times[name].append(fn(model, x, y))
            print(name, round(times[name][-1], 2), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [{"method": k, "median_s": round(v, 2), "images_per_s": round(N / v, 2),
             "runs_s": [round(t, 2) for t in times[k]]} for k, v in med.items()]
    ratio = med["captum direct"] / med["robustune explain"]
    checks = {f"explain throughput {ratio:.2f}x Captum direct >= 0.95x": ratio >= 0.95}
    notes = [f"integrated gradients, {STEPS} steps, black baseline, batches of {BATCH}, internal batch sized "
             f"by explain.base.auto_internal_batch for both; {N} Fashion-MNIST holdout images at "
             f"{tuple(x.shape[1:])}, model {path}; one warm-up call, then {REPEATS} interleaved runs in "
             "alternating order, medians"]
    write_results("explain_throughput", "python bench/bench_explain.py", rows, checks, notes)


if __name__ == "__main__":
    main()
