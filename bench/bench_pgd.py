"""PGD-10 throughput: robustune's audit attack vs torchattacks called directly vs ART's
ProjectedGradientDescent, side by side on the same model and 200 images.

Run: .venv/bin/python bench/bench_pgd.py   (needs adversarial-robustness-toolbox; `make bench`
installs it). Targets: audit >= 0.95x torchattacks, >= 1.3x ART.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import common  # noqa: F401
import numpy as np
import torch
import torchattacks
from common import WORK, write_results

from finetune.evaluation import bundle_data, bundle_labels
from finetune.preprocess import prepare_inputs
from plugins.bundle import load_bundle
from robustness.audit import AuditConfig, run_audit

EPS, STEPS, N, BATCH, REPEATS = 2 / 255, 10, 200, 50, 3


def model_and_data() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor, str]:
    """The fine-tuned EfficientNet of the image benchmark (trained here if missing)."""
    path = WORK / "image_finetune-full"
    if not (path / "robustune.json").is_file():
        from finetune.driver import run_training
        from finetune.run_config import from_options

        opts = {"data": "fashion-mnist", "backbone": "efficientnet_lite0", "adapter": "full",
                "image_size": 96, "per_class": 100, "epochs": 3, "out": str(path)}
        run_training(from_options(opts))
    bundle = load_bundle(Path(path))
    _, data = bundle_data(bundle, "fashion-mnist")
    data = data.subset(list(range(N)))
    x = prepare_inputs(data, bundle.meta["preprocessing"])["pixels"].float() / 255
    return bundle.model, x, bundle_labels(data, bundle), str(path)


def ours(model, x, y) -> float:  # type: ignore[no-untyped-def]
    cfg = AuditConfig(attacks=("pgd",), eps=(EPS,), steps=STEPS, batch_size=BATCH)
    report = run_audit(model, x, y, [str(i) for i in range(10)], cfg).report
    return float(report["attacks"]["pgd"][f"{EPS:.6g}"]["seconds"])


def direct(model, x, y) -> float:  # type: ignore[no-untyped-def]
    for p in model.parameters():
        p.requires_grad_(False)
    atk = torchattacks.PGD(model, eps=EPS, alpha=2.5 * EPS / STEPS, steps=STEPS, random_start=True)
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        atk(x[i : i + BATCH], y[i : i + BATCH])
    seconds = time.perf_counter() - start
    for p in model.parameters():
        p.requires_grad_(True)
    return seconds


def art(model, x, y) -> float:  # type: ignore[no-untyped-def]
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]),
                            nb_classes=10, clip_values=(0.0, 1.0), device_type="cpu")
    atk = ProjectedGradientDescent(clf, norm=np.inf, eps=EPS, eps_step=2.5 * EPS / STEPS, max_iter=STEPS,
                                   num_random_init=1, batch_size=BATCH, verbose=False)
    start = time.perf_counter()
    atk.generate(x=x.numpy(), y=y.numpy())
    return time.perf_counter() - start


def main() -> None:
    model, x, y, path = model_and_data()
    model.eval()
    times: dict[str, list[float]] = {"robustune audit": [], "torchattacks direct": [], "ART": []}
    for _ in range(REPEATS):  # interleaved, so machine noise hits all three alike
        for name, fn in (("robustune audit", ours), ("torchattacks direct", direct), ("ART", art)):
            times[name].append(fn(model, x, y))
            print(name, round(times[name][-1], 2), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [{"method": k, "median_s": round(v, 2), "images_per_s": round(N / v, 1),
             "runs_s": [round(t, 2) for t in times[k]]} for k, v in med.items()]
    vs_ta = med["torchattacks direct"] / med["robustune audit"]
    vs_art = med["ART"] / med["robustune audit"]
    checks = {f"audit throughput {vs_ta:.2f}x torchattacks direct >= 0.95x": vs_ta >= 0.95,
              f"audit throughput {vs_art:.2f}x ART >= 1.3x": vs_art >= 1.3}
    notes = [f"PGD Linf, eps 2/255, 10 steps, random start, batches of {BATCH}, {N} Fashion-MNIST "
             f"holdout images at {tuple(x.shape[1:])}, model {path}; {REPEATS} interleaved runs, medians"]
    write_results("pgd_throughput", "python bench/bench_pgd.py", rows, checks, notes)


if __name__ == "__main__":
    main()
