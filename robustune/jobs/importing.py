"""The ``import`` job: wrap a classifier trained elsewhere into a bundle (a timm architecture with a
weights file, or a Hugging Face sequence-classification folder), so audits and reports work on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from plugins.backbones.config import MAX_IMAGE_SIZE, MAX_LENGTH
from plugins.events import Events, Reporter, reporter
from plugins.records import Result, Spec
from plugins.schema import option, require
from robustune.jobs import Job


@dataclass(frozen=True)
class ImportSpec(Spec):
    """Exactly one of ``timm`` (with ``weights`` and ``labels``) or ``hf``."""

    ONE_OF: ClassVar = (("timm", "weights", "labels"), ("hf",))  # the groups of which exactly one is given

    out: str = option(ref="output:model", help="bundle folder to write")
    timm: str | None = option(None, help="timm architecture the weights were trained with")
    hf: str | None = option(None, ref="upload", help="a Hugging Face sequence-classification folder "
                                                     "(save_pretrained)")
    weights: str | None = option(None, ref="upload", help="with timm: whole-model state dict (.pth, "
                                                          ".safetensors)")
    labels: str | None = option(None, ref="inline", help="class names in logit order: a comma list or a file "
                                                         "(hf: the config's id2label)")
    image_size: int | None = option(None, ge=1, le=MAX_IMAGE_SIZE,
                                    help="input size (default: the architecture's)")
    mean: tuple[float, ...] | None = option(None, help="normalization mean, e.g. 0.5,0.5,0.5 (default: the "
                                                       "architecture's)", parse="numbers")
    std: tuple[float, ...] | None = option(None, help="normalization std (default: the architecture's)",
                                           parse="numbers")
    max_length: int = option(128, ge=1, le=MAX_LENGTH, help="with --hf: longest input in tokens")
    overwrite: bool = option(False, service=False, help="replace an existing out folder that robustune wrote")

    def __post_init__(self) -> None:
        require(self, [])  # ONE_OF: "give exactly one of timm (with weights, labels) or hf"


@dataclass
class ImportOutput(Result):
    """The bundle written."""

    bundle: Path


def run(spec: ImportSpec, events: Events | Reporter | None = None) -> ImportOutput:
    """Import and write the bundle atomically."""
    from finetune.importing import import_hf, import_timm, read_labels

    reporter(events).progress("importing", 0)
    if spec.hf is not None:
        labels = read_labels(spec.labels) if spec.labels else None
        path = import_hf(Path(spec.hf), Path(spec.out), labels, spec.max_length, spec.overwrite)
    else:
        assert spec.timm is not None and spec.weights is not None and spec.labels is not None
        path = import_timm(spec.timm, Path(spec.weights), read_labels(spec.labels), Path(spec.out),
                           spec.image_size, list(spec.mean) if spec.mean else None,
                           list(spec.std) if spec.std else None, spec.overwrite)
    return ImportOutput(path)


JOB = Job("import", ImportSpec, run,
          "Wrap a classifier trained elsewhere into a bundle: a timm architecture + weights, or an HF "
          "folder.",
          produces={"bundle": "bundle"},
          example={"timm": "resnet18", "weights": "ds_0123456789abcdef", "labels": "cat,dog"})
