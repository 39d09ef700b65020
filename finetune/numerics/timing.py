"""Timing numerics candidates on a real batch, so that a shared machine's slow spells hit all alike."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from finetune.numerics.apply import apply
from plugins.numerics import FP32, Numerics

REPEATS = 3
ONNX_WORTH = 20.0  # seconds of fp32 inference a job must need before exporting to onnxruntime is tried
MEASURE_SHARE = 0.10  # choosing may cost at most this share of the job's fp32 work
CHECK_BATCHES = 8  # what the agreement test of one candidate costs, in inference batches (256 examples / 32)
FORWARD_SHARE = 1 / 3  # an inference batch against a timed training or input-gradient batch (+ backward)
EXPORT_SECONDS = 4.0  # what exporting a model to ONNX and opening its session costs, about (CPU, small CNN)


def _step(model: nn.Module, args: tuple[Tensor, ...], purpose: str) -> Callable[[], Tensor]:
    """One timed unit of work: a forward pass, input gradients, or a training step's backward."""
    if purpose == "infer":
        def infer() -> Tensor:
            with torch.inference_mode():
                return model(*args)  # type: ignore[no-any-return]
        return infer
    if purpose == "gradient":
        def gradient() -> Tensor:
            if getattr(model, "modality", None) == "text":
                embeds = model.get_input_embeddings()(args[0]).detach().requires_grad_()  # type: ignore
                logits = model.forward_embeddings(embeds, args[1])  # type: ignore[operator]
                torch.autograd.grad(logits.logsumexp(1).sum(), embeds)
            else:
                x = args[0].detach().clone().requires_grad_()
                logits = model(x)
                torch.autograd.grad(logits.logsumexp(1).sum(), x)
            return logits.detach()
        return gradient

    def train() -> Tensor:
        logits = model(*args)
        logits.logsumexp(1).sum().backward()
        for p in model.parameters():
            p.grad = None
        return logits.detach()
    return train


def _time(fn: Callable[[], Tensor], give_up: float = float("inf"), repeats: int = REPEATS) -> float:
    """Median seconds of ``fn`` after a warm-up; a warm-up slower than ``give_up`` (or ``repeats`` 0)
    is the answer."""
    start = time.perf_counter()
    fn()  # warm-up: kernels picked, caches filled
    if (first := time.perf_counter() - start) > give_up or repeats == 0:
        return first
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def predict_argmax(model: nn.Module, batches: list[tuple[Tensor, ...]]) -> Tensor:
    with torch.inference_mode():
        return torch.cat([model(*b).argmax(1) for b in batches])


@contextlib.contextmanager
def kept_state(model: nn.Module) -> Iterator[None]:
    """Measuring changes nothing: buffers (batch-norm statistics), the mode and the RNG come back."""
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    training = model.training
    rng = torch.get_rng_state()  # dropout draws while timing must not shift a seeded run
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        with torch.no_grad():
            for k, v in model.named_buffers():
                v.copy_(buffers[k])
        model.train(training)


def fp32_work(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> float:
    """Seconds the job's ``examples`` take in fp32, from the timed batch."""
    return seconds.get(FP32.label, 0.0) * (examples or 0) / max(1, len(timing[0]))


def worth_exporting(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> bool:
    return fp32_work(seconds, timing, examples) >= ONNX_WORTH


def affordable(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None, started: float,
               cost: float) -> bool:
    """Whether ``cost`` more seconds of measuring (what is promised already and one more candidate: its
    warm-up, timed rounds and agreement test, about fp32's batch time each, and an export) keep the
    choosing, begun at ``started``, within ``MEASURE_SHARE`` of the job's fp32 work."""
    if examples is None:
        return True
    return time.perf_counter() - started + cost <= MEASURE_SHARE * fp32_work(seconds, timing, examples)


def too_short_note(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> str:
    return (f"this job needs about {fp32_work(seconds, timing, examples):.1f} s of fp32 work; measuring this "
            f"would take more than {MEASURE_SHARE:.0%} of it")


def short_job_note(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> str:
    return (f"this job needs about {fp32_work(seconds, timing, examples):.0f} s of fp32 inference, too "
            f"little to repay exporting the model (tried from {ONNX_WORTH:.0f} s)")


@dataclass
class Timings:
    """Seconds per batch of each candidate; those over 3x fp32 (timed once); the copies and wrappers built
    (int8, onnxruntime), to be used again rather than built twice; those the job could not afford."""

    seconds: dict[str, float]
    slow: set[str]
    held: dict[str, nn.Module]
    unaffordable: set[str]


def needs_extra_check(n: Numerics) -> bool:
    """Whether a candidate must also pass the job's own check (an audit's robust accuracy): those that
    compute in reduced precision; a memory format alone changes only the order of fp32 sums."""
    return n.dtype != FP32.dtype


def time_candidates(model: nn.Module, options: list[Numerics], timing: tuple[Tensor, ...], purpose: str,
                    skipped: dict[str, str], examples: int | None, rounds: int = REPEATS,
                    started: float | None = None, extra_batches: float = 0.0) -> Timings:
    """Median seconds per batch of each candidate, timed in interleaved rounds (one batch each per round),
    so a slow spell of a shared machine hits every candidate alike. A warm-up call each comes first; a
    candidate whose warm-up is over 3x fp32's keeps that as its time and is not timed further. A
    candidate whose measuring (timing, agreement test and, for reduced precision, the job's own check of
    ``extra_batches`` timed batches) would take the choosing, begun at ``started``, past
    ``MEASURE_SHARE`` of the job's fp32 work is not measured (``examples``: the job's inputs); one
    slower than fp32 in each of two rounds is timed no further (it cannot win)."""
    started = time.perf_counter() if started is None else started
    first: dict[str, float] = {}
    held: dict[str, nn.Module] = {}  # candidates that are copies or wrappers (int8, onnxruntime): built once
    committed = 0.0  # what the candidates taken so far will still cost: their rounds and agreement tests
    unaffordable: set[str] = set()
    for n in options:  # fp32 first
        if n.runtime != "torch" and not worth_exporting(first, timing, examples):
            skipped[n.label] = short_job_note(first, timing, examples)
            continue
        if first:
            check = CHECK_BATCHES * (1.0 if purpose == "infer" else FORWARD_SHARE)
            extra = extra_batches if needs_extra_check(n) else 0.0  # the job's own check, in timed batches
            each = (rounds + check + extra) * first[FP32.label]
            cost = committed + first[FP32.label] + each + (EXPORT_SECONDS if n.runtime != "torch" else 0.0)
            if not affordable(first, timing, examples, started, cost):
                skipped[n.label] = too_short_note(first, timing, examples)
                unaffordable.add(n.label)
                continue
            committed += each
        run = apply(model, n)
        if n.runtime != "torch":
            try:
                run.ready(*timing)  # type: ignore[operator]  # the export is not what is timed
            except Exception as exc:  # noqa: BLE001 - torch.export raises many kinds
                from finetune.export.onnx import root_cause

                skipped[n.label] = f"cannot be exported to ONNX ({root_cause(exc)[:120]})"
                continue
        if n.int8 or n.runtime != "torch":
            held[n.label] = run
        first[n.label] = _time(_step(run, timing, purpose), repeats=0)
    timed = [n for n in options if n.label in first
             and (n == FP32 or first[n.label] <= 3 * first[FP32.label])]
    if timed == [FP32]:  # nothing to compare: fp32's warm-up is its time
        return Timings(first, set(), held, unaffordable)
    samples: dict[str, list[float]] = {n.label: [] for n in timed}
    losing: set[str] = set()  # slower than fp32 in every round so far: timed no further
    for r in range(rounds):
        for n in timed:
            if n.label in losing:
                continue
            step = _step(held.get(n.label) or apply(model, n), timing, purpose)
            start = time.perf_counter()
            step()
            samples[n.label].append(time.perf_counter() - start)
        if r >= 1:  # two rounds each: a candidate whose fastest is slower than fp32's slowest cannot win
            slowest = max(samples[FP32.label])
            losing |= {n.label for n in timed if n != FP32 and min(samples[n.label]) > slowest}
    medians = {label: statistics.median(s) for label, s in samples.items()}
    return Timings({**first, **medians}, set(first) - set(medians), held, unaffordable)
