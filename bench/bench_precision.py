"""Fastest numerics, measured: every candidate against fp32 contiguous, side by side in one run.

Run: .venv/bin/python bench/bench_precision.py
Models: EfficientNet-Lite0 probed on Fashion-MNIST (224 px, batch 32) and MiniLM probed on Rotten
Tomatoes (batch 64). Per candidate: median seconds per batch (inference; a training step; PGD-10;
integrated gradients), the ratio to fp32 contiguous, and agreement with fp32 (argmax on 256
holdout examples; robust accuracy for PGD; cosine similarity of attributions for IG). Then what
`--precision auto` picks for an inference over 10,000 inputs, and an audit (FGSM + PGD-10, 4
budgets) under auto against fp32.
Targets: EfficientNet inference >= 2.5x with agreement >= 99.5%; MiniLM inference never slower
than fp32; the audit's robust accuracy under auto within 1 point of fp32's at every budget.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import common
import torch
import torchattacks
from captum.attr import IntegratedGradients
from common import WORK, write_results
from torch import nn

from finetune.batches import model_args
from finetune.evaluation import bundle_data, bundle_labels
from finetune.numerics import apply, choose, kept_state, native_half, time_candidates
from finetune.preprocess import prepare_inputs
from plugins.bundle import load_bundle
from plugins.numerics import FP32, Numerics

REPEATS, CHECK_N, ROUNDS = 3, 256, 7
MODELS = {
    "EfficientNet-Lite0": ({"data": "fashion-mnist", "model": "efficientnet_lite0", "per_class": 100,
                            "image_size": 224}, 32),
    "MiniLM": ({"data": "rotten-tomatoes", "model": "bert", "per_class": 250}, 64),
}
ORT = Numerics(runtime="onnxruntime")
CANDIDATES = {"image": [Numerics("fp32"), Numerics("fp32", True), Numerics("bf16"), Numerics("bf16", True),
                        ORT],
              "text": [Numerics("fp32"), Numerics("bf16"), Numerics("fp32", False, True), ORT]}
JOB_EXAMPLES = 10_000  # auto's choice for an inference over this many inputs (Fashion-MNIST's test set)
CPU = torch.device("cpu")


def _bundle(name: str) -> Any:
    opts, _ = MODELS[name]
    path = WORK / f"precision-{opts['model']}"
    if not (path / "robustune.json").is_file():
        from finetune.driver import run_training
        from finetune.run_config import from_options

        run_training(from_options({**opts, "precision": "fp32", "out": str(path), "overwrite": True}))
    return load_bundle(path)


def _time(fn: Callable[[], Any], give_up: float) -> tuple[float, int]:
    """Median seconds after a warm-up; (warm-up seconds, 1) when the warm-up alone exceeds ``give_up``."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first > give_up:
        return first, 1
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), REPEATS


def _argmax(model: nn.Module, batches: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(*b).argmax(1) for b in batches])


def _pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    torch.manual_seed(0)
    atk = torchattacks.PGD(model, eps=2 / 255, alpha=2.5 * (2 / 255) / 10, steps=10, random_start=True)
    adv = atk(x, y)
    with torch.no_grad():
        return float((model(adv).argmax(1) == y).float().mean())


def _ig(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return IntegratedGradients(model).attribute(x, target=y, n_steps=16, internal_batch_size=64)


def _holdout(name: str) -> tuple[Any, list[tuple[torch.Tensor, ...]], torch.Tensor]:
    """The bundle, its first 256 holdout examples in batches, and their labels."""
    bundle = _bundle(name)
    opts, batch = MODELS[name]
    _, data = bundle_data(bundle, opts["data"])
    data = data.subset(list(range(min(CHECK_N, len(data)))))
    inputs = prepare_inputs(data, bundle.meta.preprocessing, bundle.tokenizer)
    labels = bundle_labels(data, bundle)
    batches = [model_args({k: v[i: i + batch] for k, v in inputs.items()}, CPU)
               for i in range(0, len(labels), batch)]
    return bundle, batches, labels


def _gradients_row(model: nn.Module, run: nn.Module, n: Numerics, x: torch.Tensor, y: torch.Tensor,
                   fp32_s: dict[str, float]) -> dict[str, Any]:
    """PGD-10 and integrated-gradients time and agreement of one candidate."""
    row: dict[str, Any] = {}
    seconds, _ = _time(lambda: _pgd(run, x, y), 1e9)
    fp32_s.setdefault("pgd", seconds)
    row["pgd-10 s (32 images)"] = round(seconds, 3)
    row["pgd x fp32"] = round(fp32_s["pgd"] / seconds, 2)
    row["pgd robust acc"] = _pgd(run, x, y)
    xs, ys = x[:8], y[:8]
    seconds, _ = _time(lambda: _ig(run, xs, ys), 1e9)
    fp32_s.setdefault("ig", seconds)
    attr = _ig(run, xs, ys).flatten(1)
    base = _ig(apply(model, FP32), xs, ys).flatten(1)
    apply(model, n)
    row["ig s (8 images)"] = round(seconds, 3)
    row["ig x fp32"] = round(fp32_s["ig"] / seconds, 2)
    row["ig cosine vs fp32"] = round(float(torch.cosine_similarity(attr, base).mean()), 4)
    return row


def measure(name: str) -> list[dict[str, Any]]:
    """Inference, training-step, PGD and IG rows for one model."""
    bundle, batches, labels = _holdout(name)
    timing = batches[0]
    model = bundle.model
    reference = _argmax(apply(model, FP32), batches)
    rows, fp32_s = [], {}
    # interleaved rounds (a slow spell of the shared machine hits all alike), as --precision auto times them
    timed = time_candidates(model, CANDIDATES[model.modality], timing, "infer", {}, 10**9, ROUNDS)
    apply(model, FP32)
    infer, slow_ones, held = timed.seconds, timed.slow, timed.held
    for n in CANDIDATES[model.modality]:
        run = held.get(n.label) or apply(model, n)
        row: dict[str, Any] = {"model": name, "candidate": n.label}
        row["inference s/batch"] = round(infer[n.label], 4)
        row["inference x fp32"] = round(infer[FP32.label] / infer[n.label], 2)
        slow = n.label in slow_ones
        agree = "-" if slow else float((_argmax(run, batches) == reference).float().mean())
        row["agreement"] = agree if isinstance(agree, str) else round(agree, 4)
        gradients = not n.int8 and n.runtime == "torch" and not slow  # inference-only candidates stop here
        if gradients:  # a candidate over 3x slower at inference is not timed further
            with kept_state(run):  # train-mode steps must not move the batch-norm statistics
                run.train()
                seconds, runs = _time(_step(run, timing), 3 * fp32_s.get("train", 1e9))
            fp32_s.setdefault("train", seconds)
            row["train step s"] = round(seconds, 4)
            row["train x fp32"] = round(fp32_s["train"] / seconds, 2)
        if model.modality == "image" and gradients:
            row.update(_gradients_row(model, run, n, timing[0][:32], labels[:32], fp32_s))
        rows.append(row)
        print(row, flush=True)
    apply(model, FP32)
    return rows


def _step(model: nn.Module, args: tuple[torch.Tensor, ...]) -> Callable[[], None]:
    def step() -> None:
        model(*args).logsumexp(1).sum().backward()
        for p in model.parameters():
            p.grad = None
    return step


def auto_choice(name: str) -> dict[str, Any]:
    """What --precision auto picks for an inference over JOB_EXAMPLES inputs (measured afresh)."""
    bundle, batches, _ = _holdout(name)
    _, choice = choose(bundle.model, batches[0], batches, CPU, "infer", "auto", use_cache=False,
                       examples=JOB_EXAMPLES)
    return choice.to_json()


def audit_agreement() -> tuple[dict[str, Any], float]:
    """The default audit (FGSM + PGD-10 at 1, 2, 4, 8/255) on 200 images under fp32 and auto."""
    from robustune.jobs import audit

    bundle = WORK / "precision-efficientnet_lite0"
    accs: dict[str, dict[str, float]] = {}
    for precision in ("fp32", "auto"):
        spec = audit.AuditSpec(bundle=str(bundle), data="fashion-mnist", n=200, precision=precision,
                               attacks=("fgsm", "pgd"), eps=(1 / 255, 2 / 255, 4 / 255, 8 / 255),
                               out=str(WORK / f"precision-audit-{precision}"), overwrite=True)
        report = audit.run(spec).report
        accs[precision] = {f"{a} {e}": s["robust_accuracy"] for a, by in report["attacks"].items()
                           for e, s in by.items()}
        accs[precision]["numerics"] = report["numerics"]["choice"]  # type: ignore[assignment]
    gap = max(abs(accs["auto"][k] - accs["fp32"][k]) for k in accs["fp32"] if k != "numerics")
    return accs, gap


def _table_x(rows: list[dict[str, Any]], model: str, candidate: str) -> float:
    """The interleaved measurement (speed-up over fp32) of the candidate auto chose."""
    row = next(r for r in rows if r["model"] == model and r["candidate"] == candidate)
    return float(row["inference x fp32"])


def main() -> None:
    rows = measure("EfficientNet-Lite0") + measure("MiniLM")
    image_auto, text_auto = auto_choice("EfficientNet-Lite0"), auto_choice("MiniLM")
    accs, gap = audit_agreement()
    for row in rows:
        for key in list(rows[0]) + [k for r in rows for k in r]:
            row.setdefault(key, "-")
    checks = {}
    img_x, img_agree = _table_x(rows, "EfficientNet-Lite0", image_auto["choice"]), \
        image_auto["agreement_vs_fp32"][image_auto["choice"]]
    checks[f"EfficientNet-Lite0 inference under auto ({image_auto['choice']}) {img_x:.2f}x fp32 >= 2.5x"] = \
        img_x >= 2.5
    checks[f"EfficientNet-Lite0 auto agreement {img_agree:.4f} >= 0.995"] = img_agree >= 0.995
    txt_x = _table_x(rows, "MiniLM", text_auto["choice"])
    checks[f"MiniLM inference under auto ({text_auto['choice']}) {txt_x:.2f}x fp32 >= 1 (never slower)"] = \
        txt_x >= 1.0
    checks[f"audit under auto ({accs['auto']['numerics']}) robust accuracy within {gap * 100:.1f} points of "
           "fp32 at every attack and budget (<= 1)"] = gap <= 0.01
    cpu = ("this CPU has native bf16 (AVX512-BF16 or AMX), so auto measures the bf16 candidates"
           if native_half(CPU) else "this CPU has no native bf16 (AVX2 only): bf16 runs emulated there, so "
           "auto does not measure it (the rows above time it once to show why)")
    notes = [cpu,
             "a row's '-' agreement: the candidate was over 3x slower than fp32, timed once and not checked",
             "training step: forward + backward of a batch (batch 32 images / 64 texts), model in train mode",
             "PGD-10 at 2/255 (torchattacks) and integrated gradients (Captum, 16 steps) on the probed model",
             f"auto, EfficientNet-Lite0: {image_auto['choice']}; MiniLM: {text_auto['choice']} "
             f"(auto's own timings, measured afresh: {image_auto['seconds_per_batch']}, "
             f"{text_auto['seconds_per_batch']}); the checks quote the table's interleaved speed-up of that "
             "choice",
             f"inference times: median of {ROUNDS} rounds, each timing every candidate on one batch in turn",
             f"audit robust accuracy fp32 vs auto: {accs['fp32']} / {accs['auto']}"]
    write_results("precision", "python bench/bench_precision.py", rows, checks, notes)


if __name__ == "__main__":
    common.machine()
    main()
