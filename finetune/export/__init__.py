"""Bundles leaving robustune: ONNX for onnxruntime, or the folder layout Hugging Face and timm load.

One exporter per file, registered in the ``exporter`` namespace like every other plugin: an
exporter writes its files into a folder and returns how it checked them. ``export_bundle`` loads the
bundle, runs the exporter inside an atomic folder (nothing half-written is ever left at ``out``),
and writes ``export.json``: what was exported, from which bundle, and the check's figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from plugins import jsonio
from plugins.atomic import atomic_dir
from plugins.bundle import Bundle, library_versions, load_bundle
from plugins.errors import Unsupported
from plugins.meta import ImagePreprocessing

EXPORT_FILE = "export.json"
CHECK_N = 32  # inputs compared with the bundle
TOLERANCE = 1e-4  # largest |logit difference| accepted
Exporter = Callable[[Bundle, Path], dict[str, Any]]


@dataclass
class Exported:
    """Where the export went and how it was checked (``check``: runtime, inputs, max_abs_diff)."""

    path: Path
    format: str
    files: list[str] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)


def sample_inputs(bundle: Bundle, n: int = CHECK_N, seed: int = 0) -> dict[str, Tensor]:
    """``n`` inputs of the bundle's kind: random pixels in [0, 1], or texts of random vocabulary words
    (1 to 40 words, so padding and truncation both occur) through the bundle's tokenizer.

    Shape: -> pixels (n, C, H, W), or input_ids and attention_mask (n, L).
    """
    g = torch.Generator().manual_seed(seed)
    pre = bundle.meta.preprocessing
    if isinstance(pre, ImagePreprocessing):
        c, h, w = pre.input_size
        return {"pixels": torch.rand(n, c, h, w, generator=g)}
    tokenizer = bundle.tokenizer
    words = sorted(w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii())
    picks = torch.randint(len(words), (n, 40), generator=g)
    lengths = torch.randint(1, 41, (n,), generator=g)
    texts = [" ".join(words[int(i)] for i in row[: int(k)]) for row, k in zip(picks, lengths, strict=True)]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=pre.max_length,
                    return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def compare(reference: Tensor, other: Any, where: str) -> float:
    """The largest |logit difference|; over ``TOLERANCE`` is an error naming ``where``."""
    diff = float((reference.float() - torch.as_tensor(other).float()).abs().max())
    if not diff <= TOLERANCE:
        raise Unsupported(f"the {where} gives logits {diff:.2e} away from the bundle's (limit "
                          f"{TOLERANCE:g}); it was not written: report this with the bundle's robustune.json")
    return diff


def reference_logits(bundle: Bundle, inputs: dict[str, Tensor]) -> Tensor:
    """The bundle's own logits in fp32. Shape: -> (n, K)."""
    with torch.inference_mode():
        return bundle.model(*inputs.values()).float()


def export_bundle(bundle: str | Path, fmt: str, out: str | Path, overwrite: bool = False) -> Exported:
    """Export ``bundle`` as ``fmt`` (a registered exporter: onnx, hf) into ``out``, checked, atomically."""
    from plugins.registry import registry

    exporter: Exporter = registry.get("exporter", fmt)
    loaded = load_bundle(Path(bundle))
    with atomic_dir(Path(out), overwrite=overwrite, inputs=[bundle], kind="export") as tmp:
        check = exporter(loaded, tmp)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        record = {"format": fmt, "bundle": str(Path(bundle).resolve()), "labels": loaded.labels,
                  "modality": loaded.modality, "preprocessing": loaded.meta.preprocessing.to_json(),
                  "identity": loaded.meta.identity or None, "check": check, "versions": library_versions()}
        (tmp / EXPORT_FILE).write_text(jsonio.dumps(record))
    return Exported(Path(out), fmt, files + [EXPORT_FILE], check)
