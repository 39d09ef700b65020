"""The ``export`` job: a bundle as ONNX (onnxruntime) or as a Hugging Face / timm folder, checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.events import Events, Reporter, reporter
from plugins.records import Result, Spec
from plugins.schema import option
from robustune.jobs import Job


@dataclass(frozen=True)
class ExportSpec(Spec):
    """Which bundle, in which format, where."""

    bundle: str = option(ref="model", help="bundle folder", argument=True)
    out: str = option(help="folder to write (replaced only with --overwrite, and only if robustune wrote it)")
    format: str = option("onnx", help="onnx (onnxruntime; every image model and the BERT family) or hf "
                                      "(a transformers folder for text, a timm folder for timm images)")
    overwrite: bool = option(False, help="replace an existing --out that robustune wrote")


@dataclass
class ExportOutput(Result):
    """The folder written, its files, and the check: the runtime that reloaded it, on how many inputs,
    and the largest |logit difference| from the bundle (at most 1e-4, or nothing is written)."""

    path: Path
    format: str
    files: list[str] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)


def run(spec: ExportSpec, events: Events | Reporter | None = None) -> ExportOutput:
    """Export and check; the folder appears only when the exported model matches the bundle."""
    from finetune.export import export_bundle

    report = reporter(events)
    report.progress("exporting", 0, 1)
    done = export_bundle(spec.bundle, spec.format, spec.out, spec.overwrite)
    report.progress("exporting", 1, 1)
    return ExportOutput(done.path, done.format, done.files, done.check)


JOB = Job("export", ExportSpec, run,
          "Export a bundle: ONNX (onnxruntime) or a Hugging Face folder (transformers for text, timm for "
          "images), checked against the bundle's logits.", produces={"folder": "path"}, service=False)
