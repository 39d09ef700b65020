"""Wrapping a classifier trained elsewhere into a bundle, so audits work on it.

A timm architecture with a local weights file (its own classifier kept) and a label list, or a
Hugging Face sequence-classification folder (labels from its config unless given).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from plugins.backbones import BackboneConfig
from plugins.bundle import save_bundle
from plugins.classifier import ImageClassifier
from plugins.errors import InvalidInput, NotFound, brief, opt
from plugins.model import ModelSpec, build_classifier
from plugins.weights import fit_state_dict, read_state_dict


def read_labels(spec: str) -> list[str]:
    """A comma list, or a UTF-8 text file with one label per line; names must be distinct."""
    path = Path(spec)
    try:
        labels = path.read_text(encoding="utf-8").splitlines() if path.is_file() else spec.split(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{opt('labels')} file {path} cannot be read ({brief(exc)}); give UTF-8 text, one "
                           "per line", field='labels') \
            from exc
    labels = [label.strip() for label in labels if label.strip()]
    if len(labels) < 2:
        raise InvalidInput(f"{opt('labels')} needs at least two class names (a comma list or a file, "
                           "one per line)", field='labels')
    twice = sorted({name for name in labels if labels.count(name) > 1})
    if twice:
        raise InvalidInput(f"{opt('labels')} names {twice[0]!r} more than once; every class needs its "
                           "own name", field='labels')
    return labels


def import_timm(
    arch: str, weights: Path, labels: list[str], out: Path, image_size: int | None = None,
    mean: list[float] | None = None, std: list[float] | None = None, overwrite: bool = False,
) -> Path:
    """A bundle from a timm architecture and a state dict of the whole model (classifier included)."""
    import timm

    if not timm.is_model(arch):
        raise InvalidInput(f"timm has no architecture {arch!r}; pass a timm model name such as resnet18")
    reference: Any = timm.create_model(arch, pretrained=False, num_classes=len(labels))
    sd = fit_state_dict(reference, read_state_dict(weights), str(weights))
    reference.load_state_dict(sd, strict=True)
    head_name = reference.pretrained_cfg.get("classifier", "fc")
    head_layer = reference.get_submodule(head_name)
    spec = ModelSpec(arch, len(labels), BackboneConfig(weights="none", image_size=image_size))
    model = build_classifier(spec)
    assert isinstance(model, ImageClassifier)
    model.backbone.model.load_state_dict(  # type: ignore[union-attr]
        {k: v for k, v in sd.items() if not k.startswith(head_name + ".")}, strict=True)
    model.head[1].load_state_dict(head_layer.state_dict())  # type: ignore[index]
    pre = model.backbone.preprocessing()
    if mean is not None or std is not None:
        if mean is None or std is None or len(mean) != 3 or len(std) != 3:
            raise InvalidInput(f"{opt('mean')} and {opt('std')} go together, three numbers each (e.g. "
                               "0.5,0.5,0.5)", field='mean')
        pre.update(mean=mean, std=std)
        model.mean.copy_(torch.tensor(mean).view(1, -1, 1, 1))
        model.std.copy_(torch.tensor(std).view(1, -1, 1, 1))
    meta = {"model": spec.to_json(), "arch": model.backbone.arch(),
            "identity": f"{arch} (imported from {Path(weights).name})", "labels": labels,
            "preprocessing": pre, "adapter": {"name": "imported", "config": {}},
            "data": {"source": "imported", "weights": str(weights)}, "metrics": {}}
    return save_bundle(out, model.eval(), meta, overwrite=overwrite, inputs=[weights])


def import_hf(folder: Path, out: Path, labels: list[str] | None = None, max_length: int = 128,
              overwrite: bool = False) -> Path:
    """A text bundle from a folder that ``save_pretrained`` wrote (model and tokenizer)."""
    from plugins.backbones.hf_classifier import HFSequenceClassifier, load_hf_classifier
    from plugins.classifier import TextClassifier
    from plugins.registry import registry

    if not (Path(folder) / "config.json").is_file():
        raise NotFound(f"{folder} has no config.json; pass the folder that save_pretrained wrote")
    hf_model, tokenizer = load_hf_classifier(str(folder))
    n = int(hf_model.config.num_labels)
    if labels is None:
        id2label = hf_model.config.id2label or {}
        labels = [str(id2label.get(i, id2label.get(str(i), i))) for i in range(n)]
    if len(labels) != n:
        raise InvalidInput(f"{opt('labels')} names {len(labels)} classes but the model in {folder} has {n} "
                           "outputs; give one name per output, in logit order", field='labels')
    backbone = HFSequenceClassifier(hf_model, max_length, tokenizer)
    model = TextClassifier(backbone, registry.get("head", "identity")(n, n))
    spec = ModelSpec("hf-sequence-classifier", n, BackboneConfig(weights=str(folder), max_length=max_length),
                     head="identity")
    meta = {"model": spec.to_json(), "arch": backbone.arch(),
            "identity": f"{Path(folder).resolve().name} (imported)", "labels": labels,
            "preprocessing": backbone.preprocessing(), "adapter": {"name": "imported", "config": {}},
            "data": {"source": "imported", "weights": str(folder)}, "metrics": {}}
    return save_bundle(out, model.eval(), meta, tokenizer=tokenizer, overwrite=overwrite, inputs=[folder])
