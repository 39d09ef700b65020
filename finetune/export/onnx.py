"""ONNX export (torch.onnx, the dynamo exporter), checked in onnxruntime.

Images take pixels in [0, 1], ``(batch, C, H, W)``, with the normalization inside the graph, as the
bundle does; texts take ``input_ids`` and ``attention_mask``, ``(batch, length)``. The batch (and a
text's length) is dynamic. The folder also holds the tokenizer of a text bundle, so it is complete.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finetune.export import compare, reference_logits, sample_inputs
from plugins.bundle import TOKENIZER_DIR, Bundle
from plugins.errors import Unsupported, brief, opt
from plugins.numerics import FP32, Computes

ONNX_FILE = "model.onnx"
OPSET = 18


class Graph(nn.Module):
    """What is traced: a Classifier's logits, or its features (``forward_features``).

    Shape: (N, C, H, W) pixels, or (N, L) ids and (N, L) mask -> (N, K) logits or (N, F) features.
    """

    def __init__(self, model: nn.Module, features: bool = False) -> None:
        super().__init__()
        self.model, self.features = model, features

    def forward(self, first: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        args = (first,) if mask is None else (first, mask)
        run = self.model.forward_features if self.features else self.model
        return run(*args)  # type: ignore[no-any-return,operator]


def _dynamic(inputs: dict[str, torch.Tensor]) -> dict[str, dict[int, Any]]:
    batch = torch.export.Dim("batch")
    if "pixels" in inputs:
        return {"first": {0: batch}}
    length = torch.export.Dim("length", max=4096)
    return {"first": {0: batch, 1: length}, "mask": {0: batch, 1: length}}


def _quietly() -> contextlib.ExitStack:
    """torch.onnx prints its progress and warnings; a command prints only its own lines."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript"):
        logger = logging.getLogger(name)
        stack.callback(logger.setLevel, logger.level)
        logger.setLevel(logging.ERROR)
    return stack


def export_graph(model: nn.Module, example: dict[str, torch.Tensor], path: Path,
                 features: bool = False) -> None:
    """Trace ``model``'s logits (or features) for inputs like ``example`` into ``path``, batch and text
    length dynamic, in fp32 whatever numerics the model was set to. Raises what torch.export raises."""
    was = model.numerics if isinstance(model, Computes) else FP32
    if isinstance(model, Computes):
        model.use_numerics(FP32)
    try:
        with _quietly(), torch.no_grad():
            torch.onnx.export(Graph(model, features).eval(), tuple(example.values()), str(path),
                              input_names=list(example), output_names=["features" if features else "logits"],
                              dynamic_shapes=_dynamic(example), dynamo=True, external_data=False,
                              opset_version=OPSET)
    finally:
        if isinstance(model, Computes):
            model.use_numerics(was)


def write_onnx(bundle: Bundle, path: Path) -> None:
    """Trace the bundle's model into ``path``; a model ONNX cannot express raises one line."""
    try:
        export_graph(bundle.model, sample_inputs(bundle, 2), path)
    except Exception as exc:  # noqa: BLE001 - torch.export and onnxscript raise many kinds
        name = bundle.meta.identity or bundle.meta.model.backbone
        raise Unsupported(f"bundle {bundle.path} ({name}) cannot be exported to ONNX: {root_cause(exc)}; "
                          f"{opt('format')} hf covers timm and BERT-family bundles, or keep serving the "
                          "bundle itself") from exc


def root_cause(exc: BaseException) -> str:
    """The innermost cause in one line, without the exporter's colour codes and advice."""
    while exc.__cause__ is not None and exc.__cause__ is not exc:
        exc = exc.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", brief(exc, 200))
    return f"{type(exc).__name__}: {text}"


def exporter(bundle: Bundle, folder: Path) -> dict[str, Any]:
    """``model.onnx`` (+ ``tokenizer/``), checked in onnxruntime against the bundle on 32 inputs."""
    try:
        import onnxruntime as ort
        import onnxscript  # noqa: F401 - torch's ONNX exporter needs it
    except ImportError as exc:
        raise Unsupported(f"ONNX export needs onnx, onnxscript and onnxruntime ({exc.name} is missing): pip "
                          "install 'robustune[export]'") from exc

    write_onnx(bundle, folder / ONNX_FILE)
    if bundle.tokenizer is not None:
        bundle.tokenizer.save_pretrained(str(folder / TOKENIZER_DIR))
    inputs = sample_inputs(bundle)
    session = ort.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {k: v.numpy() for k, v in inputs.items()})[0]
    diff = compare(reference_logits(bundle, inputs), got, "ONNX model in onnxruntime")
    return {"runtime": f"onnxruntime {ort.__version__}", "inputs": len(got), "max_abs_diff": diff,
            "opset": OPSET, "input_names": list(inputs), "dynamic": "batch" if "pixels" in inputs
            else "batch, length"}
