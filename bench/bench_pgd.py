"""PGD throughput: robustune's audit (per-budget mode, the same work) vs torchattacks called directly
vs ART's ProjectedGradientDescent, side by side on the same model, the same 200 images and the same
batch; then a whole robustness curve (FGSM and PGD-10 at 1, 2, 4 and 8/255 on 500 images): the default
audit, with the batch it picks for the device, against torchattacks run at every budget at batch 64.

robustune runs as a user runs it: the audit job (`robustune audit BUNDLE --data fashion-mnist --attacks
pgd --eps 2/255 --n 200 --independent --batch-size 64`), with the numerics its `--precision auto` picks
(measured once, then cached); torchattacks and ART get the images the job attacked, on the model as
loaded, and torchattacks once more on the model set to the numerics the audit chose. The seconds are
the attack's own (the report's), on a GPU when there is one.

Run: .venv/bin/python bench/bench_pgd.py [--throughput-only]
(needs adversarial-robustness-toolbox; `make bench` installs it). Targets: per-budget audit >= 1.0x
torchattacks at the same batch (and >= 0.95x torchattacks given the numerics the audit chose: the
wrapper's own cost), >= 1.3x ART; the curve >= 3x faster than torchattacks per budget with robust
accuracy never higher at any budget.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401
import numpy as np
import torch
import torchattacks
from common import WORK, write_results
from safetensors.torch import load_file

from finetune.numerics import apply
from plugins.bundle import load_bundle
from plugins.numerics import Numerics

EPS, STEPS, N, BATCH, REPEATS = 2 / 255, 10, 200, 64, 3
CURVE_EPS, CURVE_N = (1 / 255, 2 / 255, 4 / 255, 8 / 255), 500
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
OURS, DIRECT, ART = "robustune audit", "torchattacks direct", "ART"
SAME = "torchattacks, robustune's numerics"


def bundle_path() -> str:
    """The fine-tuned EfficientNet of the image benchmark (trained here if missing)."""
    path = WORK / "image_finetune-full"
    if not (path / "robustune.json").is_file():
        from finetune.driver import run_training
        from finetune.run_config import from_options

        opts = {"data": "fashion-mnist", "backbone": "efficientnet_lite0", "adapter": "full",
                "image_size": 96, "per_class": 100, "epochs": 3, "out": str(path)}
        run_training(from_options(opts))
    return str(path)


def audit_job(path: str, out: Path, **given: Any) -> tuple[float, dict[str, Any], torch.Tensor, torch.Tensor]:
    """(the audit's own seconds, its report, the images and labels it attacked) of `robustune audit`."""
    from robustune.jobs.audit import AuditSpec, run

    result = run(AuditSpec(bundle=path, data="fashion-mnist", steps=STEPS, out=str(out), overwrite=True,
                           **given))
    examples = load_file(str(out / "adversarial.safetensors"))
    return float(result.report["seconds"]), result.report, examples["x"], examples["labels"]


def frozen(model: torch.nn.Module) -> torch.nn.Module:
    """The model as loaded, on the device, in eval mode without parameter gradients (as for torchattacks)."""
    model = model.to(DEVICE).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def direct(model, x, y) -> float:  # type: ignore[no-untyped-def]
    atk = torchattacks.PGD(model, eps=EPS, alpha=2.5 * EPS / STEPS, steps=STEPS, random_start=True)
    sync()
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        atk(x[i : i + BATCH].to(DEVICE), y[i : i + BATCH].to(DEVICE))
    sync()
    return time.perf_counter() - start


def art(model, x, y) -> float:  # type: ignore[no-untyped-def]
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]),
                            nb_classes=10, clip_values=(0.0, 1.0),
                            device_type="gpu" if DEVICE.type == "cuda" else "cpu")
    atk = ProjectedGradientDescent(clf, norm=np.inf, eps=EPS, eps_step=2.5 * EPS / STEPS, max_iter=STEPS,
                                   num_random_init=1, batch_size=BATCH, verbose=False)
    start = time.perf_counter()
    atk.generate(x=x.numpy(), y=y.numpy())
    return time.perf_counter() - start


def curve_direct(model, x, y) -> tuple[float, dict[str, dict[float, float]], int]:  # type: ignore[no-untyped-def]
    """The curve from torchattacks' FGSM and PGD at every budget, on every image, at batch 64."""
    x, y = x.to(DEVICE), y.to(DEVICE)
    with torch.no_grad():
        clean = torch.cat([model(x[i : i + BATCH]).argmax(1) for i in range(0, len(x), BATCH)]) == y
    acc: dict[str, dict[float, float]] = {"fgsm": {}, "pgd": {}}
    sync()
    start = time.perf_counter()
    for eps in CURVE_EPS:
        for name, atk in (("fgsm", torchattacks.FGSM(model, eps=eps)),
                          ("pgd", torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / STEPS, steps=STEPS,
                                                   random_start=True))):
            torch.manual_seed(0)
            adv = torch.cat([atk(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)])
            with torch.no_grad():
                pred = torch.cat([model(adv[i : i + BATCH]).argmax(1) for i in range(0, len(x), BATCH)])
            acc[name][eps] = float(((pred == y) & clean).float().mean())
    sync()
    seconds = time.perf_counter() - start
    return seconds, acc, len(x) * (1 + STEPS) * len(CURVE_EPS)


def curve(path: str) -> None:
    """The robustness curve: the default audit (its own batch) vs torchattacks per budget at batch 64."""
    out = WORK / "bench_pgd_curve"
    name_ours, name_direct = "robustune audit (default)", "torchattacks per budget, batch 64"
    times: dict[str, list[float]] = {name_ours: [], name_direct: []}
    results: dict[str, tuple[dict[str, dict[float, float]], int]] = {}
    report: dict[str, Any] = {}
    for _ in range(2):  # interleaved
        seconds, report, x, y = audit_job(path, out, attacks=("fgsm", "pgd"), eps=CURVE_EPS, n=CURVE_N)
        acc = {a: {e: report["attacks"][a][f"{e:.6g}"]["robust_accuracy"] for e in CURVE_EPS}
               for a in ("fgsm", "pgd")}
        steps = sum(s["gradient_steps"] for a in report["attacks"].values() for s in a.values())
        times[name_ours].append(seconds)
        results[name_ours] = (acc, steps)
        seconds, acc, steps = curve_direct(frozen(load_bundle(Path(path)).model), x, y)
        times[name_direct].append(seconds)
        results[name_direct] = (acc, steps)
        print({k: round(v[-1], 1) for k, v in times.items()}, flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for name, (acc, steps) in results.items():
        rows.append({"method": name, "median_s": round(med[name], 1), "gradient_steps": steps,
                     **{f"{a}@{round(e * 255)}/255": acc[a][e] for a in ("fgsm", "pgd") for e in CURVE_EPS}})
    ours_acc, theirs_acc = results[name_ours][0], results[name_direct][0]
    speedup = med[name_direct] / med[name_ours]
    never_higher = all(ours_acc[a][e] <= theirs_acc[a][e] for a in ("fgsm", "pgd") for e in CURVE_EPS)
    checks = {f"whole curve {speedup:.2f}x faster than torchattacks per budget (goal >= 3x)":
              speedup >= 3.0,
              "robust accuracy never higher than torchattacks' at any attack and budget": never_higher}
    notes = [f"FGSM and PGD-10 (random start, step 2.5 eps / 10) at 1, 2, 4, 8/255 on the {CURVE_N} "
             f"Fashion-MNIST holdout images the audit job picked, model {path}, on {DEVICE.type}; "
             "2 interleaved runs, medians; robust accuracy counts clean-correct samples only, in both",
             f"robustune: `robustune audit BUNDLE --data fashion-mnist --n {CURVE_N}` (its defaults: batch "
             f"{report['batch']['size']} ({report['batch']['why']}), numerics "
             f"{report['numerics']['choice']}); "
             "each budget attacks only the samples still correct at the previous one (the others keep their "
             "adversarial example), PGD stops per sample at its first adversarial iterate; `--independent` "
             "restores the per-budget mode",
             f"torchattacks: FGSM and PGD at batch {BATCH} on the model as loaded (fp32)"]
    write_results("audit_curve", "python bench/bench_pgd.py", rows, checks, notes)


def main() -> None:
    path = bundle_path()
    if "--throughput-only" not in sys.argv:  # the curve takes most of the time
        curve(path)
    out = WORK / "bench_pgd_throughput"
    per_budget = {"attacks": ("pgd",), "eps": (EPS,), "n": N, "batch_size": BATCH, "independent": True}
    model = frozen(load_bundle(Path(path)).model)
    times: dict[str, list[float]] = {OURS: [], DIRECT: [], SAME: [], ART: []}
    report: dict[str, Any] = {}
    for _ in range(REPEATS):  # interleaved, so machine noise hits all four alike
        _, report, x, y = audit_job(path, out, **per_budget)
        times[OURS].append(report["attacks"]["pgd"][f"{EPS:.6g}"]["seconds"])
        times[DIRECT].append(direct(model, x, y))
        same = apply(frozen(load_bundle(Path(path)).model), Numerics(**report["numerics"]["numerics"]))
        times[SAME].append(direct(same, x, y))
        times[ART].append(art(model, x, y))
        print({k: round(v[-1], 2) for k, v in times.items()}, flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [{"method": k, "median_s": round(v, 2), "images_per_s": round(N / v, 1),
             "runs_s": [round(t, 2) for t in times[k]]} for k, v in med.items()]
    vs_ta = med[DIRECT] / med[OURS]
    vs_same = med[SAME] / med[OURS]
    vs_art = med[ART] / med[OURS]
    checks = {f"per-budget audit {vs_ta:.2f}x torchattacks direct at the same batch >= 1.0x": vs_ta >= 1.0,
              f"per-budget audit {vs_same:.2f}x torchattacks on the same numerics >= 0.95x (the wrapper's "
              "own cost)": vs_same >= 0.95,
              f"per-budget audit {vs_art:.2f}x ART >= 1.3x": vs_art >= 1.3}
    notes = [f"PGD Linf, eps 2/255, 10 steps, random start, batches of {BATCH}, the {N} Fashion-MNIST "
             f"holdout images the audit job picked, at {tuple(x.shape[1:])}, model {path}, on {DEVICE.type}; "
             f"{REPEATS} interleaved runs, medians of the attack's own seconds",
             f"robustune: `robustune audit BUNDLE --data fashion-mnist --attacks pgd --eps 2/255 --n {N} "
             f"--independent --batch-size {BATCH}`; its numerics: {report['numerics']['choice']} (chosen by "
             "--precision auto, measured on the first run, then cached): the speed over torchattacks comes "
             "from them, as the third row shows",
             "torchattacks direct and ART: the model as loaded (fp32, contiguous), parameters frozen; "
             "torchattacks, robustune's numerics: the same model set to the numerics the audit chose"]
    write_results("pgd_throughput", "python bench/bench_pgd.py", rows, checks, notes)


if __name__ == "__main__":
    main()
