"""A Classifier answered by onnxruntime: inference through ONNX graphs of the model, exported once.

``--precision auto`` measures this as one more inference candidate (forward passes only: no
gradient flows through it, so attacks, attributions and training never use it). The model's
logits and features graphs are exported on first use and kept on disk under the numerics cache,
named by a digest of the weights, so a bundle is exported once per machine; the newest
``KEEP_FILES`` graphs are kept.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from plugins.numerics import ONNX_RUNTIME, Numerics

KEEP_FILES = 16
NAMES = {1: ["pixels"], 2: ["input_ids", "attention_mask"]}


def available() -> bool:
    """Whether onnxruntime and torch's ONNX exporter (onnxscript) are installed."""
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def weights_digest(model: nn.Module) -> str:
    """A digest of the architecture's class and every tensor (name, dtype, shape, values)."""
    h = hashlib.sha256(type(getattr(model, "backbone", model)).__name__.encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:24]


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP_FILES:]:
        old.unlink(missing_ok=True)


class OnnxRuntimeClassifier(nn.Module):
    """``model``'s forward and forward_features run by onnxruntime (CPU), float32 in and out.

    Shape: as the model: pixels (N, C, H, W) or ids and mask (N, L) -> (N, K) logits / (N, F) features.
    """

    def __init__(self, model: nn.Module, folder: Path) -> None:
        super().__init__()
        self.source = model  # kept for its parameters (device, size) and for export
        self.modality = getattr(model, "modality", None)
        self.folder = folder
        self.digest = weights_digest(model)
        self.sessions: dict[str, Any] = {}
        self.failed: set[str] = set()  # graphs torch.export could not trace: torch answers them
        self.numerics = ONNX_RUNTIME

    def use_numerics(self, numerics: Numerics) -> None:
        """Record the numerics this wrapper stands for (always onnxruntime)."""
        self.numerics = numerics

    def graph(self, graph: str, args: tuple[Tensor, ...]) -> Path:
        """The ONNX file of ``graph`` (logits or features), exported from inputs like ``args`` unless it is
        on disk already. Raises what torch.export raises for a model it cannot trace."""
        from finetune.export.onnx import export_graph

        path = self.folder / f"{self.digest}-{graph}.onnx"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
            os.close(fd)
            try:
                example = dict(zip(NAMES[len(args)], (a[:2] for a in args), strict=True))
                export_graph(self.source, example, Path(tmp), features=graph == "features")
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            _prune(self.folder)
        return path

    def _session(self, graph: str, args: tuple[Tensor, ...]) -> Any:
        if graph in self.sessions:
            return self.sessions[graph]
        import onnxruntime as ort

        path = self.graph(graph, args)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        self.sessions[graph] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return self.sessions[graph]

    def ready(self, *args: Tensor) -> None:
        """Export (or find on disk) and load the logits graph for inputs like ``args``, before timing."""
        self._session("logits", args)

    def _run(self, graph: str, args: tuple[Tensor, ...]) -> Tensor:
        if graph not in self.failed:
            try:
                session = self._session(graph, args)
            except Exception:  # noqa: BLE001 - a graph ONNX cannot express runs in torch (fp32) instead
                self.failed.add(graph)
        if graph in self.failed:
            run = self.source.forward_features if graph == "features" else self.source
            return run(*args)  # type: ignore[no-any-return,operator]
        feed = {name: a.detach().cpu().contiguous().numpy()
                for name, a in zip(NAMES[len(args)], args, strict=True)}
        return torch.from_numpy(session.run(None, feed)[0])

    def forward(self, *args: Tensor) -> Tensor:
        return self._run("logits", args)

    def forward_features(self, *args: Tensor) -> Tensor:
        """Shape: as the model's ``forward_features``."""
        return self._run("features", args)
