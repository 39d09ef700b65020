"""Batch sizes that follow the device: the largest batch whose memory fits what the device has free.

A batch of B examples needs about ``fixed + B * per_example`` bytes beyond the loaded model. On a GPU
both are measured: the peak memory of a batch of 2 and of 8 (a forward pass, and for ``gradient`` the
input gradient too). On the CPU ``per_example`` is counted from one example's activations
(plugins/footprint.py) and ``fixed`` is 0. The measure is cached with the numerics (per architecture,
input shape, numerics, device name and torch version); the free memory is read at each use.

The CPU keeps its usual sizes (a larger batch is no faster there) unless they do not fit; a GPU takes
the largest power of two that fits, up to ``GPU_MAX`` and the job's own number of examples.
``ROBUSTUNE_MEMORY_LIMIT_MB`` caps the memory batches may count on (a GPU shared with others).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finetune.batches import Inputs, model_args
from finetune.memory import available_bytes
from finetune.numerics.cache import cache_file, cache_key, read_cache, write_choice
from plugins.footprint import activation_bytes
from plugins.modes import frozen_eval
from robustness.text_audit import EmbeddingForward

SHARE = 0.7  # of the free memory batches may take (the rest: allocator slack, the job's own tensors)
GPU_MAX = 1024  # the largest batch a GPU is given (larger ones rarely run faster)
LIMIT_ENV = "ROBUSTUNE_MEMORY_LIMIT_MB"
PROBE = (2, 8)  # the two batch sizes whose peak memory is measured on a GPU
PURPOSES = ("infer", "gradient")
_MEASURING = threading.Lock()  # GPU peak statistics are per process: one measurement at a time


@dataclass(frozen=True)
class Footprint:
    """Bytes a batch needs beyond the loaded model: ``fixed + batch * per_example``."""

    fixed: int
    per_example: int
    measured: bool  # True: peak memory on the device; False: counted from one example's activations

    def fits(self, free: int) -> int:
        """The largest batch whose bytes stay within ``SHARE`` of ``free`` (0 when none does)."""
        return max(0, (int(free * SHARE) - self.fixed) // max(self.per_example, 1))


def free_bytes(device: torch.device) -> int | None:
    """Memory free on ``device`` now (a GPU's free memory, the CPU's available memory), capped by
    ``ROBUSTUNE_MEMORY_LIMIT_MB``; None when unknown."""
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_bytes()
    limit = os.environ.get(LIMIT_ENV, "").strip()
    if limit:
        try:
            cap = int(float(limit) * 2**20)
        except (ValueError, OverflowError):
            cap = None  # an unreadable limit is no limit (the variable is for operators, read often)
        if cap is not None and cap > 0:
            free = cap if free is None else min(free, cap)
    return free


def _one(args: tuple[Tensor, ...], batch: int) -> tuple[Tensor, ...]:
    """The first example repeated ``batch`` times, in the input's memory format.

    Shape: (N, ...) -> (B, ...).
    """
    out = []
    for a in args:
        rep = a[:1].expand(batch, *a.shape[1:]).clone()
        if a.dim() == 4 and a.is_contiguous(memory_format=torch.channels_last):
            rep = rep.contiguous(memory_format=torch.channels_last)
        out.append(rep)
    return tuple(out)


def _run(model: nn.Module, args: tuple[Tensor, ...], purpose: str) -> None:
    """One forward pass (``infer``), or a forward and the gradient with respect to the input."""
    if purpose == "infer":
        with torch.no_grad():
            model(*args)
        return
    if args[0].is_floating_point():
        x = args[0].detach().requires_grad_(True)
        logits = model(x, *args[1:])
    else:  # token ids: the gradient is taken with respect to their embeddings
        x = model.get_input_embeddings()(args[0]).detach().requires_grad_(True)  # type: ignore[operator]
        logits = model.forward_embeddings(x, *args[1:])  # type: ignore[operator]
    loss = F.cross_entropy(logits.float(), logits.argmax(1), reduction="sum")
    torch.autograd.grad(loss, x)


def _measured(model: nn.Module, args: tuple[Tensor, ...], device: torch.device, purpose: str) -> Footprint:
    """Peak memory of two small batches on a GPU, as ``fixed + batch * per_example``, after a warm-up
    (first-use workspaces are not an example's); never below half the counted activations (a GPU's
    peak statistics are the process's: a sanity floor). One measurement at a time in this process."""
    with _MEASURING:
        _run(model, _one(args, PROBE[0]), purpose)  # warm-up: libraries' workspaces, kernels chosen
        peaks = _peaks(model, args, device, purpose)
    floor = _counted(model, args, purpose).per_example // 2
    per = max(1, (peaks[1] - peaks[0]) // (PROBE[1] - PROBE[0]), floor)
    return Footprint(max(0, peaks[0] - per * PROBE[0]), per, True)


def _peaks(model: nn.Module, args: tuple[Tensor, ...], device: torch.device, purpose: str) -> list[int]:
    """Bytes allocated at the peak of each ``PROBE`` batch, beyond what was allocated before it."""
    peaks = []
    for b in PROBE:
        batch = _one(args, b)
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        _run(model, batch, purpose)
        torch.cuda.synchronize(device)
        peaks.append(torch.cuda.max_memory_allocated(device) - base)
        del batch
    return peaks


def _counted(model: nn.Module, args: tuple[Tensor, ...], purpose: str) -> Footprint:
    """One example's activations (a forward pass of one example on the CPU)."""
    if purpose == "gradient" and not args[0].is_floating_point():  # texts: count through the embeddings
        embeds = model.get_input_embeddings()(args[0][:1])  # type: ignore[operator]
        forward = EmbeddingForward(model, args[1][:1])  # type: ignore[arg-type]  # a text Classifier
        return Footprint(0, activation_bytes(forward, embeds), False)
    return Footprint(0, activation_bytes(model, *(a[:1] for a in args), kept=purpose == "gradient"), False)


def footprint(model: nn.Module, args: tuple[Tensor, ...], device: torch.device, purpose: str,
              use_cache: bool = True) -> Footprint:
    """The bytes a batch of ``args``-shaped inputs needs for ``purpose`` on ``device`` (cached).

    Shape: args are one batch of the model's inputs, (N, ...) each; only the first example is used.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    numerics = getattr(model, "numerics", None)
    label = numerics.label if numerics is not None else "fp32"
    path, key = cache_file(), cache_key(model, args, device, f"batch-{purpose}", label)
    entry = read_cache(path).get("batches", {}).get(key) if use_cache else None
    if isinstance(entry, dict) and {"fixed", "per_example", "measured"} <= entry.keys():
        return Footprint(int(entry["fixed"]), int(entry["per_example"]), bool(entry["measured"]))
    with frozen_eval(model, 0):
        found = _measured(model, args, device, purpose) if device.type == "cuda" else _counted(model, args,
                                                                                              purpose)
    write_choice(path, key, {"fixed": found.fixed, "per_example": found.per_example,
                             "measured": found.measured}, section="batches")
    return found


def probe_args(inputs: Inputs, device: torch.device) -> tuple[Tensor, ...]:
    """One example as the model takes it on ``device``: the first image, or the longest text (the
    batch's memory grows with its longest text). Shape: N inputs -> (1, ...) each."""
    mask = inputs.get("attention_mask")
    i = int(mask.sum(1).argmax()) if mask is not None else 0
    return model_args({k: v[i : i + 1] for k, v in inputs.items()}, device)


def pow2_floor(n: int) -> int:
    """The largest power of two not above ``n`` (1 for n < 1)."""
    return 1 << (max(n, 1).bit_length() - 1)


@dataclass(frozen=True)
class Batch:
    """A batch size and why it was chosen (recorded in the job's output)."""

    size: int
    why: str

    def to_json(self) -> dict[str, object]:
        """``{"size": 64, "why": "..."}``."""
        return {"size": self.size, "why": self.why}


def batch_for(model: nn.Module, args: tuple[Tensor, ...], device: torch.device, purpose: str, usual: int,
              examples: int | None = None, given: int | None = None, passes: int = 1) -> Batch:
    """The batch for ``purpose`` on ``device``: ``given`` when the user set one; on the CPU ``usual``
    unless it does not fit; on a GPU the largest power of two that fits, up to ``GPU_MAX`` and
    ``examples`` (rounded up to a power of two). ``passes``: inputs the job runs at once per example
    (an explainer's noisy or occluded copies).

    Shape: args are one batch of the model's inputs, (N, ...) each.
    """
    if given is not None:
        return Batch(given, "given")
    free = free_bytes(device)
    if free is None:
        return Batch(usual, "the usual size (free memory unknown)")
    try:
        need = footprint(model, args, device, purpose)
    except (RuntimeError, AttributeError, NotImplementedError, TypeError, ValueError) as exc:
        return Batch(usual, f"the usual size (its memory could not be measured: {type(exc).__name__})")
    if passes > 1:
        need = Footprint(need.fixed, need.per_example * passes, need.measured)
    return sized(device.type == "cuda", need, free, usual, examples)


def sized(gpu: bool, need: Footprint, free: int, usual: int, examples: int | None = None) -> Batch:
    """The batch ``batch_for`` picks once the footprint and the free bytes are known."""
    fits = need.fits(free)
    mib = f"{free / 2**20:,.0f} MiB"
    if fits < 1:
        return Batch(1, f"one at a time: even one example needs more than {SHARE:.0%} of the {mib} free")
    if not gpu:
        if fits >= usual:
            return Batch(usual, "the CPU's usual size")
        return Batch(fits, f"lowered from {usual} to fit {SHARE:.0%} of the {mib} free")
    top = GPU_MAX if examples is None else min(GPU_MAX, pow2_floor(2 * max(examples, 1) - 1))
    size = pow2_floor(min(fits, top))
    why = "all the job's examples" if size == top < GPU_MAX else f"fits {SHARE:.0%} of the {mib} free"
    return Batch(size, why)



CERTIFY_MAX = 1024  # noisy copies per forward pass of a certification at most (CPU and GPU)
# On the CPU a larger pass is no faster, and its tensors cost page faults: glibc maps those above 32 MiB
# afresh at each allocation, and even with freed memory kept (plugins/allocator.py) a heap grown for them
# is faulted in again. EfficientNet-Lite0 at 128 px, 4 images certified in fp32 with freed memory kept:
# 11.3 / 10.7 / 13.7 / 36.4 s at 16 / 32 / 128 / 1000 copies per pass (its largest layer output: 1.6 MiB
# per copy); with glibc's default, 15.4 s at 16 and 27.3 s at 32
CPU_TENSOR_BYTES = 32 * 2**20


def certify_batch(model: nn.Module, args: tuple[Tensor, ...], device: torch.device,
                  given: int | None = None) -> Batch:
    """Noisy copies per forward pass of a randomized-smoothing certification (robustness/certify.py):
    ``given`` when set; on a GPU the largest power of two that fits (``batch_for``'s rule); on the CPU the
    largest power of two whose largest layer output stays within ``CPU_TENSOR_BYTES``; at most
    ``CERTIFY_MAX``.

    Shape: args are one batch of the model's inputs, (N, ...) each.
    """
    if given is not None:
        return Batch(given, "given")
    if getattr(getattr(model, "numerics", None), "runtime", "torch") != "torch":
        return Batch(CERTIFY_MAX // 8, "a middle size (onnxruntime's layers cannot be measured)")
    if device.type == "cuda":
        return batch_for(model, args, device, "infer", CERTIFY_MAX)
    try:
        need = footprint(model, args, device, "infer")
    except (RuntimeError, AttributeError, NotImplementedError, TypeError, ValueError) as exc:
        why = f"a middle size (its memory could not be measured: {type(exc).__name__})"
        return Batch(CERTIFY_MAX // 8, why)
    inputs = sum(a[:1].numel() * a.element_size() for a in args)
    largest = max(1, (need.per_example - inputs) // 2)  # an inference footprint: twice the largest output
    size = min(CERTIFY_MAX, pow2_floor(CPU_TENSOR_BYTES // largest))
    free = free_bytes(device)
    if free is not None and 0 < need.fits(free) < size:
        return sized(False, need, free, size)
    return Batch(size, f"each layer's output within {CPU_TENSOR_BYTES // 2**20} MiB (larger passes are no "
                       "faster on the CPU and fault their memory in)")
