"""``--precision auto``: the fastest numerics whose predictions agree with fp32, measured once and cached.

``choose`` times every candidate on a real batch, keeps a candidate only if its predictions agree
with fp32 (argmax agreement >= 99.5% on a validation batch), takes the fastest, and caches the choice
on disk per (architecture, input shape, device, torch version, purpose), so the measuring happens
once per machine. onnxruntime is tried only for jobs long enough to repay the export, and the
measuring never costs more than a tenth of the job's fp32 work (``timing.MEASURE_SHARE``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from finetune.numerics.apply import M, apply, candidates, half_dtype, native_half
from finetune.numerics.cache import cache_file, cache_key, read_cache, write_choice
from finetune.numerics.timing import (
    kept_state,
    needs_extra_check,
    predict_argmax,
    short_job_note,
    time_candidates,
    worth_exporting,
)
from plugins.errors import InvalidInput, Unsupported, opt
from plugins.modes import frozen_eval
from plugins.numerics import FP32, ONNX_RUNTIME, PRECISIONS, PURPOSES, Choice, Numerics

AGREEMENT = 0.995
MIN_BATCHES = 10  # a job of fewer timed batches runs in fp32 unmeasured (one timed batch is 10% of it)


def choose(model: M, timing: tuple[Tensor, ...], check: list[tuple[Tensor, ...]],
           device: torch.device, purpose: str = "infer", precision: str = "auto",
           extra_check: Callable[[nn.Module], bool] | None = None,
           use_cache: bool = True, examples: int | None = None,
           extra_batches: float = 0.0) -> tuple[M, Choice]:
    """``model`` set to the fastest numerics ``precision`` allows whose predictions agree with fp32.

    ``timing``: one real batch to time; ``check``: validation batches for the agreement test;
    ``extra_check(model)``: a further test a reduced-precision candidate must pass (an audit's robust
    accuracy), costing about ``extra_batches`` timed batches;
    ``examples``: how many inputs the job will run (onnxruntime is tried only when that much fp32
    work takes ``ONNX_WORTH`` seconds or more). Returns the model (a copy for int8, a wrapper for
    onnxruntime) and the choice.
    """
    if precision not in PRECISIONS:
        raise InvalidInput(f"{opt('precision')} {precision!r} is unknown; use one of {', '.join(PRECISIONS)}")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose {purpose!r} is not one of {PURPOSES}")
    if precision == "bf16" and device.type == "cuda" and half_dtype(device) != "bf16":
        raise Unsupported(f"this GPU has no bf16; use {opt('precision')} auto (it measures fp16) or fp32")
    options = candidates(model, device, purpose, precision)
    skipped = {} if precision != "auto" or native_half(device) else {
        "bf16": "this CPU has no bf16 instructions (AVX512-BF16 or AMX); emulated, it runs several times "
                "slower than fp32"}
    if len(options) == 1:
        return apply(model, options[0]), Choice(options[0], precision, purpose, skipped=skipped)
    path, key = cache_file(), cache_key(model, timing, device, purpose, precision)
    cache = read_cache(path) if use_cache else {}
    hit = cache.get("choices", {}).get(key)
    by_label = {n.label: n for n in options}
    long_job = worth_exporting(hit.get("seconds", {}) if isinstance(hit, dict) else {}, timing, examples)
    if isinstance(hit, dict) and (hit.get("onnx") or not long_job or ONNX_RUNTIME not in options):
        label = hit.get("choice") if long_job else hit.get("choice_torch")
        if label in by_label:
            if not long_job and ONNX_RUNTIME in options:
                skipped[ONNX_RUNTIME.label] = short_job_note(hit.get("seconds", {}), timing, examples)
            return apply(model, by_label[label]), Choice(
                by_label[label], precision, purpose, hit.get("seconds", {}), hit.get("agreement", {}), True,
                skipped)
    started = time.perf_counter()
    if examples is not None and examples < MIN_BATCHES * len(timing[0]):  # even fp32's timing would cost
        for n in options[1:]:
            skipped[n.label] = f"this job is {examples} inputs: too short to repay measuring"
        agree = {FP32.label: 1.0}  # fp32 agrees with itself: what every choice records
        return apply(model, FP32), Choice(FP32, precision, purpose, agreement=agree, skipped=skipped)
    frozen = frozen_eval(model, 0) if purpose == "gradient" else contextlib.nullcontext()
    with kept_state(model), frozen:  # input gradients are timed as attacks take them: parameters frozen
        model.train(purpose == "train")
        timings = time_candidates(model, options, timing, purpose, skipped, examples, started=started,
                                  extra_batches=extra_batches if extra_check is not None else 0.0)
        seconds, held, unaffordable = timings.seconds, timings.held, timings.unaffordable
        model.eval()
        measured = [o for o in options if o.label in seconds and o != FP32]
        reference = predict_argmax(apply(model, FP32), check) if measured else None
        agreement: dict[str, float] = {FP32.label: 1.0}
        best: Numerics | None = None
        best_torch: Numerics | None = None  # the choice for a job too short for onnxruntime
        for n in sorted((o for o in options if o.label in seconds), key=lambda c: seconds[c.label]):
            if n == FP32:
                break
            run = held.get(n.label) or apply(model, n)
            assert reference is not None  # measured holds n
            agreement[n.label] = float((predict_argmax(run, check) == reference).float().mean())
            if agreement[n.label] >= AGREEMENT and (extra_check is None or not needs_extra_check(n)
                                                    or extra_check(run)):
                best = best or n
                if n.runtime == "torch":
                    best_torch = n
                    break
        best, best_torch = best or FP32, best_torch or FP32
    choice = Choice(best, precision, purpose, {k: round(v, 5) for k, v in seconds.items()},
                    {k: round(v, 4) for k, v in agreement.items()}, skipped=skipped,
                    measured_s=round(time.perf_counter() - started, 3))
    if use_cache and measured:  # a job too short to measure anything leaves the question open
        settled = ONNX_RUNTIME.label in {*seconds, *unaffordable}  # tried, or more than the job could pay
        write_choice(path, key, {"choice": best.label, "choice_torch": best_torch.label, "onnx": settled,
                                 "seconds": choice.seconds, "agreement": choice.agreement})
    if best.label in held:  # the copy or wrapper already built (its export and session included)
        apply(model, FP32)
        return held[best.label], choice  # type: ignore[return-value]
    return apply(model, best), choice
