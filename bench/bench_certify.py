"""Certified robustness by randomized smoothing, side by side with ART: a digits CNN and a Fashion-MNIST
EfficientNet-Lite0 (full fine-tune, 128 px), each trained with and without ``--noise-train 0.25``. robustune
is timed as a user runs it: ``robustune audit BUNDLE --certify --sigma 0.25 --n N`` (the audit job with its
defaults: its numerics, its certification batch, its allocator setting); ART's
``PyTorchRandomizedSmoothing.certify`` (a loop over inputs) as ART is called by default, on the bundle's
fp32 model in a process of its own, and once more given robustune's numerics in robustune's process. On
the same inputs, sigma, n0, n and alpha: certified accuracy at L2 radii 0, 0.25 and 0.5, agreement of the
predictions and radii (different noise: Monte-Carlo tolerance), wall time of the certification; and the
audit's empirical PGD-L2 accuracy against the same smoothed classifier, which must never be below the
certified one. Run: ``python bench/bench_certify.py`` (ART comes with ``make bench``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, write_results  # noqa: E402

SIGMA, N0, N, ALPHA = 0.25, 100, 1000, 0.001
RADII = (0.0, 0.25, 0.5)
CASES = [  # name, train options, certified inputs
    ("digits cnn", {"data": "digits", "backbone": "cnn"}, 100),
    ("Fashion-MNIST EfficientNet-Lite0 full 128 px",
     {"data": "fashion-mnist", "backbone": "efficientnet_lite0", "adapter": "full", "image_size": 128,
      "per_class": 60, "test_per_class": 10, "epochs": 3}, 10),
]


def inputs_of(bundle_dir: Path, n: int) -> tuple[Any, torch.Tensor, torch.Tensor]:
    from finetune.evaluation import bundle_data, bundle_labels
    from finetune.preprocess import prepare_inputs
    from plugins.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    _, data = bundle_data(bundle, bundle.meta.data_source, "holdout")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n].tolist()
    data = data.subset(order)
    pixels = prepare_inputs(data, bundle.meta.preprocessing, None)["pixels"].float() / 255
    return bundle, pixels, bundle_labels(data, bundle)


def art_certify(model: torch.nn.Module, x: torch.Tensor, classes: int,
                batch_size: int = 32) -> tuple[np.ndarray, np.ndarray, float]:
    """ART's certify on the same model and inputs (``batch_size``: its default, 32)."""
    from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing

    np.random.seed(0)
    smoothed = PyTorchRandomizedSmoothing(model=model, loss=torch.nn.CrossEntropyLoss(),
                                          input_shape=tuple(x.shape[1:]), nb_classes=classes,
                                          clip_values=(0.0, 1.0), device_type="cpu", sample_size=N0,
                                          scale=SIGMA, alpha=ALPHA)
    start = time.perf_counter()
    pred, radius = smoothed.certify(x.numpy().astype(np.float32), n=N, batch_size=batch_size)
    return pred, radius, time.perf_counter() - start


def art_alone(bundle_dir: Path, n: int) -> dict[str, Any]:
    """ART's default call on the bundle's fp32 model in a fresh process (the C allocator as it comes)."""
    code = ("import json, sys; sys.path.insert(0, 'bench'); from pathlib import Path; "
            "import bench_certify as b; bundle, x, y = b.inputs_of(Path(sys.argv[1]), int(sys.argv[2])); "
            "p, r, s = b.art_certify(bundle.model.eval(), x, len(bundle.labels)); "
            "print(json.dumps({'predictions': p.tolist(), 'radii': r.tolist(), 'seconds': s, "
            "'labels': y.tolist()}))")
    done = subprocess.run([sys.executable, "-c", code, str(bundle_dir), str(n)], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(label: str, options: dict[str, Any], noise: float, n_inputs: int) -> dict[str, Any]:
    from finetune.driver import run_training
    from finetune.numerics import apply
    from finetune.run_config import from_options
    from plugins.numerics import Numerics
    from robustness.certify import Certified, certified_accuracy
    from robustune.jobs.audit import AuditSpec
    from robustune.jobs.audit import run as run_audit

    out = WORK / "certify" / f"{label.split()[0].lower()}-{noise:g}"
    if not (out / "robustune.json").is_file():
        run_training(from_options({**options, "noise_train": noise, "out": str(out), "overwrite": True}))
    alone = art_alone(out, n_inputs)
    audit = run_audit(AuditSpec(bundle=str(out), data=options["data"], n=n_inputs, certify=True, sigma=SIGMA,
                                certify_n0=N0, certify_n=N, certify_alpha=ALPHA, out=str(out / "audit"),
                                overwrite=True)).report
    cert = audit["certified"]
    each = cert["per_input"]
    bundle, x, y = inputs_of(out, n_inputs)
    if each["labels"] != y.tolist() or alone["labels"] != y.tolist():
        raise SystemExit(f"{label}: the audit's inputs are not the benchmark's (labels differ)")

    def result(predictions: Any, radii: Any) -> Certified:
        return Certified(torch.as_tensor(predictions).long(), torch.as_tensor(radii).float(), torch.zeros(0))

    ours, art = result(each["predictions"], each["radii"]), result(alone["predictions"], alone["radii"])
    ours_acc, art_acc = (certified_accuracy(c, y, list(RADII)) for c in (ours, art))
    numerics = Numerics(**audit["numerics"]["numerics"])
    *_, art_tuned_s = art_certify(apply(bundle.model.eval(), numerics), x, len(bundle.labels))
    upper = [cert["empirical_accuracy"][cert["radii"].index(r)] for r in RADII]
    both = (ours.predictions >= 0) & (art.predictions >= 0)
    return {"model": label, "noise-train": noise, "inputs": n_inputs,
            **{f"certified r={r:g} robustune": round(a, 3) for r, a in zip(RADII, ours_acc, strict=True)},
            **{f"certified r={r:g} ART": round(a, 3) for r, a in zip(RADII, art_acc, strict=True)},
            **{f"empirical PGD-L2 r={r:g}": round(a, 3) for r, a in zip(RADII, upper, strict=True)},
            "same prediction": round(float((ours.predictions == art.predictions).float().mean()), 3),
            "mean |radius difference|": round(float((ours.radii[both] - art.radii[both]).abs().mean()), 4)
            if bool(both.any()) else "-",
            "numerics": numerics.label, "copies per pass": cert["batch"]["size"],
            "robustune s": cert["certify_seconds"], "ART s (its default)": round(alone["seconds"], 1),
            "speed-up": round(alone["seconds"] / cert["certify_seconds"], 2),
            "ART s (robustune's numerics and allocator)": round(art_tuned_s, 1),
            "speed-up vs that": round(art_tuned_s / cert["certify_seconds"], 2)}


def main() -> None:
    rows = [row(label, options, noise, n) for label, options, n in CASES for noise in (0.0, 0.25)]
    checks: dict[str, bool] = {}
    for r in rows:
        name = f"{r['model']}, noise {r['noise-train']:g}"
        tolerance = 3 / r["inputs"] + 0.02  # different noise: a few inputs near a threshold may differ
        checks[f"{name}: certified accuracy equal to ART's within Monte-Carlo tolerance"] = all(
            abs(r[f"certified r={x:g} robustune"] - r[f"certified r={x:g} ART"]) <= tolerance for x in RADII)
        checks[f"{name}: certified <= empirical PGD-L2 at every radius"] = all(
            r[f"certified r={x:g} robustune"] <= r[f"empirical PGD-L2 r={x:g}"] + 1 / r["inputs"]
            for x in RADII)
        checks[f"{name}: robustune >= 1.5x ART's speed (ART as called by default)"] = r["speed-up"] >= 1.5
    notes = [f"sigma {SIGMA}, n0 {N0}, n {N}, alpha {ALPHA} for both; robustune: the certification part of "
             "`robustune audit BUNDLE --data DATA --certify --sigma 0.25 --n N` with its defaults "
             "(audit.json `certified.certify_seconds`; numerics picked by --precision auto, copies per "
             "forward pass sized for the device, the C allocator set to keep freed memory: "
             "plugins/allocator.py); ART 1.20 PyTorchRandomizedSmoothing.certify at its default batch_size "
             "32 on the bundle's fp32 model, "
             "in a process of its own (the speed-up check), and again given robustune's numerics in "
             "robustune's process (its allocator set): what ART gains from robustune's tuning",
             "each draws its own noise (ART: NumPy's global generator, robustune: one torch generator "
             "per input), "
             "so agreement is within Monte-Carlo tolerance; tests/robustness/test_certify.py checks equality "
             "with a re-implementation of Cohen et al.'s certify drawing the same noise",
             "empirical: the audit's PGD-L2 (10 steps, 8 noise samples per step) against the smoothed "
             "classifier, judged by a majority of n0 noisy copies"]
    write_results("certify", "python bench/bench_certify.py", rows, checks, notes)


if __name__ == "__main__":
    main()
