"""GPU check (issue 25): the commands a user types, on a GPU, against the by-hand baselines.

1. training: `robustune train --data fashion-mnist --model efficientnet_lite0 --adapter full
   --per-class 200` (defaults) against a by-hand bf16 + channels-last loop with the same epochs, batch,
   image size and validation passes; the numerics choosing's seconds against the training's;
2. the audit: `robustune audit BUNDLE --data fashion-mnist --n 1000` at the batch it picks, against
   torchattacks FGSM + PGD-10 at every budget at that batch and at 64, on the images the audit attacked;
   and the per-budget mode (`--independent`) against torchattacks at the same batch;
3. predict throughput: `robustune evaluate` over the 10,000 holdout images (images per second, the batch);
4. the report end to end: `robustune report BUNDLE --data fashion-mnist --audit BUNDLE/audit`.

Run on a lent GPU machine by bench/gpu_check.sh (about 8 minutes); `--small` runs the same steps on tiny
sizes, on whatever device there is, to test the logic here. Writes bench/results/gpu_check.{json,md}
(and a copy under $OUT). A step that fails is recorded with its last error line; the others still run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401
from common import RESULTS, WORK, write_results

SMALL = "--small" in sys.argv
DATA = os.environ.get("GPU_CHECK_DATA", "fashion-mnist")  # gpu_check.sh: fashion-mnist:.gpu/fashion-mnist
PER_CLASS, AUDIT_N, STEPS = (10, 48, 3) if SMALL else (200, 1000, 10)
SIZE = ("--image-size", "64", "--epochs", "2") if SMALL else ()  # --small: small images, short training
EPS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
HOME = Path(os.environ.get("OUT") or WORK) / "gpu-check"


def robustune_out(*args: object) -> tuple[float, str]:
    """(seconds, standard output) of `robustune ARGS` (its error's last line raises when it fails)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "robustune", *map(str, args)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"robustune {args[0]} exited {done.returncode}: {last}")
    return time.perf_counter() - start, done.stdout


def robustune(*args: object) -> float:
    """Seconds `robustune ARGS` took."""
    return robustune_out(*args)[0]


def row(step: str, ours: float | None, baseline: str, theirs: float | None, details: str) -> dict[str, Any]:
    """One result: robustune's seconds, the baseline's, the ratio (above 1: robustune faster)."""
    ratio = round(theirs / ours, 2) if ours and theirs else None
    return {"step": step, "robustune_s": None if ours is None else round(ours, 2), "baseline": baseline,
            "baseline_s": None if theirs is None else round(theirs, 2), "speedup": ratio, "details": details}


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def by_hand(bundle: Path, epochs: int, n_train: int, n_val: int, batch: int) -> float:
    """Seconds of a by-hand loop: bf16 autocast (on a GPU) + channels-last, AdamW, the same epochs, batch,
    image size and a validation pass per epoch, on holdout images (the speed does not depend on which)."""
    import torch
    import torch.nn.functional as F

    from finetune.evaluation import bundle_data, bundle_labels
    from finetune.preprocess import prepare_inputs
    from plugins.bundle import load_bundle

    loaded = load_bundle(bundle)
    _, data = bundle_data(loaded, DATA, "holdout")
    data = data.subset(list(range(n_train + n_val)))
    pixels, labels = prepare_inputs(data, loaded.meta.preprocessing)["pixels"], bundle_labels(data, loaded)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = loaded.model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    def run(x: torch.Tensor) -> torch.Tensor:
        x = (x.to(device, non_blocking=True).float() / 255).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            return model(x)  # type: ignore[no-any-return]

    sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n_train)
        for i in range(0, n_train, batch):
            idx = order[i : i + batch]
            loss = F.cross_entropy(run(pixels[idx]).float(), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            for i in range(n_train, n_train + n_val, 128):
                run(pixels[i : min(i + 128, n_train + n_val)])
    sync(device)
    return time.perf_counter() - start


def torchattacks_curve(bundle: Path, audit: Path, batch: int, budgets: tuple[float, ...],
                       attacks: tuple[str, ...] = ("fgsm", "pgd")) -> float:
    """Seconds of torchattacks ``attacks`` at every budget, every image the audit attacked, at ``batch``."""
    import torch
    import torchattacks
    from safetensors.torch import load_file

    from plugins.bundle import load_bundle

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_bundle(bundle).model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    ex = load_file(str(audit / "adversarial.safetensors"))
    x, y = ex["x"].to(device), ex["labels"].to(device)
    sync(device)
    start = time.perf_counter()
    for eps in budgets:
        made = {"fgsm": lambda e: torchattacks.FGSM(model, eps=e),
                "pgd": lambda e: torchattacks.PGD(model, eps=e, alpha=2.5 * e / STEPS, steps=STEPS,
                                                 random_start=True)}
        for atk in (made[a](eps) for a in attacks):
            for i in range(0, len(x), batch):
                atk(x[i : i + batch], y[i : i + batch])
    sync(device)
    return time.perf_counter() - start


def report_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "audit.json").read_text())  # type: ignore[no-any-return]


def attack_seconds(report: dict[str, Any]) -> float:
    return sum(s["seconds"] for per in report["attacks"].values() for s in per.values())


def main() -> None:
    import torch

    HOME.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    rows: list[dict[str, Any]] = []
    checks: dict[str, bool] = {}
    bundle = HOME / "effnet"

    def step(name: str, fn: Any) -> None:
        print(f"--- {name}", flush=True)
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - recorded; the other steps still run
            rows.append(row(name, None, "", None, f"failed: {exc}"))
            checks[f"{name} ran"] = False
            print(f"    failed: {exc}", flush=True)

    def training() -> None:
        wall = robustune("train", "--data", DATA, "--model", "efficientnet_lite0", "--adapter", "full",
                         "--per-class", PER_CLASS, *SIZE, "--out", bundle, "--overwrite")
        meta = json.loads((bundle / "robustune.json").read_text())
        t = meta["training"]
        epochs, splits = len(t["history"]), meta["data"]["splits"]
        choosing = meta["numerics"]["training"].get("measured_in_s", 0.0)
        hand = by_hand(bundle, epochs, splits["train"], splits["val"], t["batch_size"])
        rows.append(row("training (the epochs)", t["seconds"]["train"], "by-hand bf16 + channels-last loop",
                        hand,
                        f"{epochs} epochs of {splits['train']} at batch {t['batch_size']}; numerics "
                        f"{meta['numerics']['training']['choice']} chosen in {choosing} s; the whole "
                        f"command {wall:.1f} s"))
        checks[f"numerics choosing {choosing:.1f} s <= 10% of the epochs' {t['seconds']['train']:.1f} s"] = (
            choosing <= 0.1 * t["seconds"]["train"] + 0.5)
        ratio = t["seconds"]["train"] / hand
        checks[f"robustune's epochs {ratio:.2f}x the by-hand loop's time (<= 1.25x)"] = ratio <= 1.25

    def audit() -> None:
        out, at64 = HOME / "audit", HOME / "audit-64"
        wall = robustune("audit", bundle, "--data", DATA, "--n", AUDIT_N, "--steps", STEPS, "--out", out,
                         "--overwrite")
        robustune("audit", bundle, "--data", DATA, "--n", AUDIT_N, "--steps", STEPS, "--batch-size", 64,
                  "--out", at64, "--overwrite")
        report, report64 = report_of(out), report_of(at64)
        batch = report["batch"]["size"]
        theirs = torchattacks_curve(bundle, out, batch, EPS)
        theirs64 = torchattacks_curve(bundle, out, 64, EPS)
        rows.append(row("audit (default: cascade, its batch)", attack_seconds(report),
                        f"torchattacks every budget, batch {batch}", theirs,
                        f"batch {batch} on {report['batch']['device']} ({report['batch']['why']}); numerics "
                        f"{report['numerics']['choice']}; the whole command {wall:.1f} s"))
        rows.append(row("audit --batch-size 64", attack_seconds(report64),
                        "torchattacks every budget, batch 64", theirs64, ""))
        checks["the default audit faster than torchattacks at every budget at its batch"] = (
            attack_seconds(report) < theirs)
        ind = HOME / "audit-independent"
        robustune("audit", bundle, "--data", DATA, "--n", AUDIT_N, "--steps", STEPS, "--independent",
                  "--batch-size", batch, "--attacks", "pgd", "--eps", "2/255", "--out", ind, "--overwrite")
        ours = attack_seconds(report_of(ind))
        direct = torchattacks_curve(bundle, ind, batch, (2 / 255,), ("pgd",))
        rows.append(row("audit --independent (PGD, 2/255)", ours, f"torchattacks PGD, batch {batch}", direct,
                        ""))
        checks[f"per-budget audit {direct / ours:.2f}x torchattacks at batch {batch} >= 1.0x"] = (
            direct >= ours)

    def predict() -> None:
        wall, out = robustune_out("evaluate", bundle, "--data", DATA, "--split", "holdout", "--json")
        n = json.loads((bundle / "robustune.json").read_text())["data"]["splits"]["test"]
        batch = json.loads(out)["batch"]
        rows.append(row("evaluate (predict throughput)", wall, "", None,
                        f"{n} images, {n / wall:.1f} per s for the whole command; batch {batch['size']} "
                        f"({batch['why']})"))

    def report() -> None:
        page = HOME / "report.html"
        wall = robustune("report", bundle, "--data", DATA, "--audit", HOME / "audit", "--out", page,
                         "--overwrite")
        rows.append(row("report end to end", wall, "", None, f"{page.stat().st_size / 1024:.0f} kB of HTML"))
        checks["the report was written"] = True

    for name, fn in (("training", training), ("audit", audit), ("predict", predict), ("report", report)):
        step(name, fn)
    where = gpu or "no GPU on this machine: the steps ran on the CPU (a logic test, not the GPU check)"
    notes = [f"device: {where}",
             f"data {DATA}; {PER_CLASS} per class; audit of {AUDIT_N} holdout images, FGSM + PGD-{STEPS} at "
             "1, 2, "
             "4, 8/255" + ("; --small sizes" if SMALL else ""),
             "by-hand loop: AdamW, bf16 autocast on a GPU (fp32 on the CPU), channels-last, no augmentation"]
    write_results("gpu_check" if gpu and not SMALL else "gpu_check_cpu_logic", "bash bench/gpu_check.sh",
                  rows, checks, notes)
    if os.environ.get("OUT"):
        for f in RESULTS.glob("gpu_check*"):
            shutil.copy(f, Path(os.environ["OUT"]) / f.name)


if __name__ == "__main__":
    main()
