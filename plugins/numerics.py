"""Numerics, the contract: how a model computes (precision, memory format, runtime) and why.

``fp32`` is the reference. ``bf16`` runs the forward pass under autocast (fp16 on a GPU without
bf16); convolutional image models can also keep channels-last memory; text models on the CPU can
run inference with dynamic int8 Linear layers, or in onnxruntime. A Classifier carries one
``Numerics`` and computes with it; choosing one by measuring (``--precision auto``), caching the
choice and exporting to onnxruntime live a floor above (``finetune/numerics/``). Declarations only:
torch is imported by the methods that compute, not by this module.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor

PRECISIONS = ("auto", "fp32", "bf16")
PRECISION_HELP = ("auto (measure fp32, bf16, channels-last, int8 and onnxruntime candidates once per model "
                  "and machine; the fastest whose predictions agree with fp32), fp32 or bf16")
PURPOSES = ("infer", "gradient", "train")  # forward only; input gradients (attacks, attributions); training


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
        import torch

        return torch.autocast(device_type, dtype=torch.bfloat16 if self.dtype == "bf16" else torch.float16)

    def prepare(self, x: Tensor) -> Tensor:
        """An image batch in this memory format. Shape: (N, C, H, W) -> same."""
        if not self.channels_last or x.dim() != 4:
            return x
        import torch

        return x.contiguous(memory_format=torch.channels_last)


FP32 = Numerics()
ONNX_RUNTIME = Numerics(runtime="onnxruntime")


@runtime_checkable
class Computes(Protocol):
    """A model that computes with a ``Numerics`` (every Classifier, the onnxruntime wrapper)."""

    numerics: Numerics

    def use_numerics(self, numerics: Numerics) -> None:
        """Compute with ``numerics`` from now on."""


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
    measured_s: float | None = None  # seconds the choosing took (None: nothing measured, or cached)

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
        if self.measured_s is not None:
            out["measured_in_s"] = self.measured_s
        return out

    def describe(self) -> str:
        """One line for logs and reports."""
        text = f"{self.numerics.label} ({self.precision}"
        if self.seconds and (fp32 := self.seconds.get(FP32.label)):
            text += f", {fp32 / self.seconds[self.numerics.label]:.2f}x fp32"
        if self.numerics.label in self.agreement:
            text += f", agreement {self.agreement[self.numerics.label]:.3f}"
        return text + (", cached" if self.cached else "") + ")"
