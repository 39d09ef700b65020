"""Putting a model on a ``Numerics`` (plugins/numerics.py), and what this device and model allow."""

from __future__ import annotations

import copy
import warnings
from typing import TypeVar

import torch
from torch import nn

from plugins.numerics import FP32, ONNX_RUNTIME, Computes, Numerics

M = TypeVar("M", bound=nn.Module)


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
        from finetune.export.runtime import OnnxRuntimeClassifier
        from finetune.numerics.cache import cache_file

        wrapper = OnnxRuntimeClassifier(apply(model, FP32), cache_file().parent / "onnx")
        wrapper.use_numerics(numerics)
        return wrapper  # type: ignore[return-value]  # stands in for the model it wraps
    if numerics.int8:
        quantize = torch.ao.quantization.quantize_dynamic
        with warnings.catch_warnings():  # torch marks its quantized tensors as deprecated (torchao is next)
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            model = quantize(copy.deepcopy(model).float(), {nn.Linear}, dtype=torch.qint8)  # type: ignore
    if getattr(model, "modality", None) == "image":
        model.to(memory_format=torch.channels_last if numerics.channels_last else torch.contiguous_format)
    if isinstance(model, Computes):
        model.use_numerics(numerics)  # read by the Classifier's forward
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
        from finetune.export.runtime import available

        out += [ONNX_RUNTIME] if available() else []
    return out if precision != "auto" else [FP32, *[n for n in out if n != FP32]]
