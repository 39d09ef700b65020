"""Numerics: the precision and memory format a model computes in, chosen by measuring.

``fp32`` is the reference. ``bf16`` runs the forward pass under autocast (fp16 on a GPU without
bf16); convolutional image models can also keep channels-last memory; text models on the CPU can
run inference with dynamic int8 Linear layers; inference on the CPU can also run in onnxruntime
(plugins/export/runtime.py) when the job is long enough to repay exporting the model.
``--precision auto`` times every candidate on a real batch, keeps a candidate only if its
predictions agree with fp32 (argmax agreement >= 99.5% on a validation batch), takes the fastest,
and caches the choice on disk per (architecture, input shape, device, torch version, purpose), so
the measuring happens once per machine.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from plugins.atomic import atomic_write_text
from plugins.errors import InvalidInput, Unsupported, opt

PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = ("auto (measure fp32, bf16, channels-last, int8 and onnxruntime candidates once per model "
                  "and machine; the fastest whose predictions agree with fp32), fp32 or bf16")
PURPOSES = ("infer", "gradient", "train")  # forward only; input gradients (attacks, attributions); training
AGREEMENT = 0.995
REPEATS = 3
CACHE_VERSION = 2
ONNX_WORTH = 20.0  # seconds of fp32 inference a job must need before exporting to onnxruntime is tried
M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class Numerics:
    """How a model computes: ``dtype`` under autocast, channels-last memory, int8 Linear layers."""

    dtype: str = "fp32"  # fp32, bf16 or fp16
    channels_last: bool = False
    int8: bool = False  # inference only: dynamic int8 Linear layers (CPU)
    runtime: str = "torch"  # or onnxruntime (inference only, CPU, fp32)

    @property
    def label(self) -> str:
        """``bf16 + channels-last`` and the like."""
        parts = [self.dtype] + ["channels-last"] * self.channels_last + ["int8 Linear"] * self.int8
        return " + ".join(parts + ([self.runtime] if self.runtime != "torch" else []))

    def autocast(self, device_type: str) -> contextlib.AbstractContextManager[Any]:
        """The autocast context of this precision (none for fp32)."""
        if self.dtype == "fp32" or self.int8 or self.runtime != "torch":
            return contextlib.nullcontext()
        return torch.autocast(device_type, dtype=torch.bfloat16 if self.dtype == "bf16" else torch.float16)

    def prepare(self, x: Tensor) -> Tensor:
        """An image batch in this memory format. Shape: (N, C, H, W) -> same."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x


FP32 = Numerics()
ONNX_RUNTIME = Numerics(runtime="onnxruntime")


@dataclass(frozen=True)
class Choice:
    """What ran and why: the numerics, what was asked, and the measurements behind ``auto``."""

    numerics: Numerics
    precision: str = "fp32"
    purpose: str = "infer"
    seconds: dict[str, float] = field(default_factory=dict)  # candidate -> median seconds per batch
    agreement: dict[str, float] = field(default_factory=dict)  # candidate -> argmax agreement with fp32
    cached: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # candidate -> why it was not measured

    def to_json(self) -> dict[str, Any]:
        """JSON for bundles, audit.json and reports."""
        out = {"choice": self.numerics.label, "precision": self.precision, "purpose": self.purpose,
               "numerics": asdict(self.numerics), "cached": self.cached}
        if self.seconds:
            fp32 = self.seconds.get(FP32.label)
            out["seconds_per_batch"] = self.seconds
            out["speedup_vs_fp32"] = round(fp32 / self.seconds[self.numerics.label], 3) if fp32 else None
        if self.agreement:
            out["agreement_vs_fp32"] = self.agreement
        if self.skipped:
            out["not_measured"] = self.skipped
        return out

    def describe(self) -> str:
        """One line for logs and reports."""
        text = f"{self.numerics.label} ({self.precision}"
        if self.seconds and (fp32 := self.seconds.get(FP32.label)):
            text += f", {fp32 / self.seconds[self.numerics.label]:.2f}x fp32"
        if self.numerics.label in self.agreement:
            text += f", agreement {self.agreement[self.numerics.label]:.3f}"
        return text + (", cached" if self.cached else "") + ")"


def is_convolutional(model: nn.Module) -> bool:
    """An image model with 2-D convolutions (channels-last can speed those up)."""
    convs = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return getattr(model, "modality", None) == "image" and convs


def half_dtype(device: torch.device) -> str:
    """The reduced precision this device runs: bf16 on CPUs and recent GPUs, else fp16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp16"
    return "bf16"


def native_half(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16/fp16 natively (GPUs; CPUs with AVX512-BF16 or AMX)."""
    if device.type != "cpu":
        return True
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, p, lambda: False)()) for p in probes)


def apply(model: M, numerics: Numerics) -> M:
    """``model`` computing with ``numerics`` (int8 gives a quantized copy, onnxruntime a wrapper that runs
    the exported model; the rest is in place)."""
    if numerics.runtime == "onnxruntime":
        from plugins.export.runtime import OnnxRuntimeClassifier

        wrapper = OnnxRuntimeClassifier(apply(model, FP32), cache_file().parent / "onnx")
        wrapper.numerics = numerics  # type: ignore[assignment]
        return wrapper  # type: ignore[return-value]
    if numerics.int8:
        quantize = torch.ao.quantization.quantize_dynamic
        with warnings.catch_warnings():  # torch marks its quantized tensors as deprecated (torchao is next)
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            model = quantize(copy.deepcopy(model).float(), {nn.Linear}, dtype=torch.qint8)  # type: ignore
    if getattr(model, "modality", None) == "image":
        model.to(memory_format=torch.channels_last if numerics.channels_last else torch.contiguous_format)
    model.numerics = numerics  # type: ignore[assignment]  # read by the Classifier's forward
    return model


def candidates(model: nn.Module, device: torch.device, purpose: str, precision: str) -> list[Numerics]:
    """What ``precision`` allows for ``model`` on ``device``; fp32 (contiguous) first, as the reference.

    onnxruntime is listed for inference on the CPU when it is installed; ``choose`` times it only for a
    job long enough to repay the export."""
    conv = is_convolutional(model)
    auto = ["fp32", half_dtype(device)] if native_half(device) else ["fp32"]  # emulated bf16: 10x slower
    dtypes = {"auto": auto, "fp32": ["fp32"], "bf16": [half_dtype(device)]}[precision]
    layouts = [False, True] if conv and precision == "auto" else [conv]
    if purpose == "train":  # fp16 training would need loss scaling: bf16 or fp32 only
        dtypes = [d for d in dtypes if d != "fp16"] or ["fp32"]
    out = [Numerics(d, c) for d in dtypes for c in layouts]
    if (precision == "auto" and purpose == "infer" and device.type == "cpu"
            and getattr(model, "modality", None) == "text"):
        out.append(Numerics("fp32", False, True))
    if precision == "auto" and purpose == "infer" and device.type == "cpu":
        from plugins.export.runtime import available

        out += [ONNX_RUNTIME] if available() else []
    return out if precision != "auto" else [FP32, *[n for n in out if n != FP32]]


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


def _predict(model: nn.Module, batches: list[tuple[Tensor, ...]]) -> Tensor:
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


def cache_file() -> Path:
    """Where measured choices live: ``$ROBUSTUNE_CACHE_DIR`` or ``~/.cache/robustune``."""
    root = os.environ.get("ROBUSTUNE_CACHE_DIR") or Path.home() / ".cache" / "robustune"
    return Path(root) / "numerics.json"


def cache_key(model: nn.Module, args: tuple[Tensor, ...], device: torch.device, purpose: str,
              precision: str) -> str:
    """(architecture, input shape, device, torch version, purpose, precision) as one string."""
    arch_fn = getattr(getattr(model, "backbone", None), "arch", None)
    arch = arch_fn() if callable(arch_fn) else type(model).__name__
    head = [type(m).__name__ for m in getattr(model, "head", nn.Identity()).modules()]
    blob = json.dumps([arch, head, getattr(model, "modality", None)], sort_keys=True, default=str)
    shape = "x".join(str(s) for s in args[0].shape[1:])  # the batch dimension is the caller's
    name = device.type if device.type == "cpu" else torch.cuda.get_device_name(device)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return f"{digest}|{shape}|{name}|{torch.__version__}|{purpose}|{precision}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: measure again and rewrite it
    return data if isinstance(data, dict) and data.get("version") == CACHE_VERSION else {}


def _fp32_work(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> float:
    """Seconds the job's ``examples`` take in fp32, from the timed batch."""
    return seconds.get(FP32.label, 0.0) * (examples or 0) / max(1, len(timing[0]))


def _worth_exporting(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> bool:
    return _fp32_work(seconds, timing, examples) >= ONNX_WORTH


def _short(seconds: dict[str, float], timing: tuple[Tensor, ...], examples: int | None) -> str:
    return (f"this job needs about {_fp32_work(seconds, timing, examples):.0f} s of fp32 inference, too "
            f"little to repay exporting the model (tried from {ONNX_WORTH:.0f} s)")


@dataclass
class Timings:
    """Seconds per batch of each candidate; those over 3x fp32 (timed once); the copies and wrappers built
    (int8, onnxruntime), to be used again rather than built twice."""

    seconds: dict[str, float]
    slow: set[str]
    held: dict[str, nn.Module]


def time_candidates(model: nn.Module, options: list[Numerics], timing: tuple[Tensor, ...], purpose: str,
                    skipped: dict[str, str], examples: int | None, rounds: int = REPEATS) -> Timings:
    """Median seconds per batch of each candidate, timed in interleaved rounds (one batch each per round),
    so a slow spell of a shared machine hits every candidate alike. A warm-up call each comes first; a
    candidate whose warm-up is over 3x fp32's keeps that as its time and is not timed further."""
    first: dict[str, float] = {}
    held: dict[str, nn.Module] = {}  # candidates that are copies or wrappers (int8, onnxruntime): built once
    for n in options:  # fp32 first
        if n.runtime != "torch" and not _worth_exporting(first, timing, examples):
            skipped[n.label] = _short(first, timing, examples)
            continue
        run = apply(model, n)
        if n.runtime != "torch":
            try:
                run.ready(*timing)  # type: ignore[operator]  # the export is not what is timed
            except Exception as exc:  # noqa: BLE001 - torch.export raises many kinds
                from plugins.export.onnx import root_cause

                skipped[n.label] = f"cannot be exported to ONNX ({root_cause(exc)[:120]})"
                continue
        if n.int8 or n.runtime != "torch":
            held[n.label] = run
        first[n.label] = _time(_step(run, timing, purpose), repeats=0)
    timed = [n for n in options if n.label in first
             and (n == FP32 or first[n.label] <= 3 * first[FP32.label])]
    samples: dict[str, list[float]] = {n.label: [] for n in timed}
    for _ in range(rounds):
        for n in timed:
            step = _step(held.get(n.label) or apply(model, n), timing, purpose)
            start = time.perf_counter()
            step()
            samples[n.label].append(time.perf_counter() - start)
    medians = {label: statistics.median(s) for label, s in samples.items()}
    return Timings({**first, **medians}, set(first) - set(medians), held)


def choose(model: M, timing: tuple[Tensor, ...], check: list[tuple[Tensor, ...]],
           device: torch.device, purpose: str = "infer", precision: str = "auto",
           extra_check: Callable[[nn.Module], bool] | None = None,
           use_cache: bool = True, examples: int | None = None) -> tuple[M, Choice]:
    """``model`` set to the fastest numerics ``precision`` allows whose predictions agree with fp32.

    ``timing``: one real batch to time; ``check``: validation batches for the agreement test;
    ``extra_check(model)``: a further test a candidate must pass (an audit's robust accuracy);
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
    cache = _read_cache(path) if use_cache else {}
    hit = cache.get("choices", {}).get(key)
    by_label = {n.label: n for n in options}
    long_job = _worth_exporting(hit.get("seconds", {}) if isinstance(hit, dict) else {}, timing, examples)
    if isinstance(hit, dict) and (hit.get("onnx") or not long_job or ONNX_RUNTIME not in options):
        label = hit.get("choice") if long_job else hit.get("choice_torch")
        if label in by_label:
            if not long_job and ONNX_RUNTIME in options:
                skipped[ONNX_RUNTIME.label] = _short(hit.get("seconds", {}), timing, examples)
            return apply(model, by_label[label]), Choice(
                by_label[label], precision, purpose, hit.get("seconds", {}), hit.get("agreement", {}), True,
                skipped)
    with kept_state(model):
        model.train(purpose == "train")
        timings = time_candidates(model, options, timing, purpose, skipped, examples)
        seconds, held = timings.seconds, timings.held
        model.eval()
        reference = _predict(apply(model, FP32), check)
        agreement: dict[str, float] = {FP32.label: 1.0}
        best: Numerics | None = None
        best_torch: Numerics | None = None  # the choice for a job too short for onnxruntime
        for n in sorted((o for o in options if o.label in seconds), key=lambda c: seconds[c.label]):
            if n == FP32:
                break
            run = held.get(n.label) or apply(model, n)
            agreement[n.label] = float((_predict(run, check) == reference).float().mean())
            if agreement[n.label] >= AGREEMENT and (extra_check is None or extra_check(run)):
                best = best or n
                if n.runtime == "torch":
                    best_torch = n
                    break
        best, best_torch = best or FP32, best_torch or FP32
    choice = Choice(best, precision, purpose, {k: round(v, 5) for k, v in seconds.items()},
                    {k: round(v, 4) for k, v in agreement.items()}, skipped=skipped)
    if use_cache:
        cache = _read_cache(path)  # another process may have written meanwhile
        cache.setdefault("choices", {})[key] = {"choice": best.label, "choice_torch": best_torch.label,
                                                "onnx": ONNX_RUNTIME.label in seconds,
                                                "seconds": choice.seconds, "agreement": choice.agreement}
        cache["version"] = CACHE_VERSION
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True))
    if best.label in held:  # the copy or wrapper already built (its export and session included)
        apply(model, FP32)
        return held[best.label], choice  # type: ignore[return-value]
    return apply(model, best), choice
