"""The model contract, parametrized over every backbone plugin in the registry (both modalities
for the from-scratch ones that take both): one training step lowers the loss on a fixed batch,
and the bundle round trip gives identical logits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from plugins.backbones import BackboneConfig
from plugins.backbones.scratch import fit_to_data
from plugins.bundle import load_bundle, save_bundle
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry

TEXTS = ["a gripping, beautifully acted film", "dull and far too long", "I loved every minute of it",
         "a mess from start to finish", "funny, warm and smart", "the plot makes no sense at all"]
HEADS = {"hf-sequence-classifier": "identity"}  # the HF model keeps its own classification head
PACKAGED = ("bert", "hf-sequence-classifier", "mobilenet_v2", "efficientnet_lite0")  # offline weights


def _cases() -> list[Any]:
    cases = []
    for entry in (e for e in registry if e.kind == "backbone"):
        factory = entry.load()
        modalities = getattr(factory, "modalities", None) or (getattr(factory, "modality", "image"),)
        for modality in modalities:
            marks = [pytest.mark.slow] if entry.name.startswith(("vgg", "resnet50")) else []
            cases.append(pytest.param(entry.name, modality, id=f"{entry.name}-{modality}", marks=marks))
    return cases


def _inputs(model: Any, modality: str) -> tuple[torch.Tensor, ...]:
    if modality == "image":
        return (torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0)),)
    enc = model.backbone.tokenizer(TEXTS, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def _meta(model: Any, spec: ModelSpec) -> dict[str, Any]:
    return {"model": spec.to_json(), "arch": model.backbone.arch(), "labels": ["neg", "pos"],
            "preprocessing": model.backbone.preprocessing()}


@pytest.mark.parametrize(("name", "modality"), _cases())
def test_one_step_lowers_loss_and_bundle_round_trip_is_exact(name: str, modality: str,
                                                             tmp_path: Path) -> None:
    factory = registry.get("backbone", name)
    cfg = BackboneConfig(weights="auto" if name in PACKAGED else "none",
                         image_size=32, max_length=16)
    if getattr(factory, "from_scratch", False):
        cfg = replace(fit_to_data(cfg, modality, (32, 32)), weights="auto")
    spec = ModelSpec(name, 2, cfg, HEADS.get(name, "linear"))
    torch.manual_seed(0)
    model = build_classifier(spec)
    assert model.modality == modality
    x = _inputs(model, modality)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    model.train()

    def loss() -> torch.Tensor:
        torch.manual_seed(1)  # the same dropout masks and noise before and after the step
        return torch.nn.functional.cross_entropy(model(*x), y)

    start = {k: v.clone() for k, v in model.state_dict().items()}
    before = float(loss().detach())
    steps = []
    for lr in (1e-3, 1e-4, 1e-5):  # one plain gradient step; a smaller one if the first overshoots
        model.load_state_dict(start)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        opt.zero_grad()
        loss().backward()
        opt.step()
        with torch.no_grad():
            steps.append(float(loss()))
        if steps[-1] < before:
            break
    assert steps[-1] < before, f"{name}: loss {before:.5f} -> {steps} after one step at lr 1e-3, 1e-4, 1e-5"

    model.eval()
    tok = getattr(model.backbone, "tokenizer", None)
    save_bundle(tmp_path / "b", model, _meta(model, spec), tok)
    loaded = load_bundle(tmp_path / "b")
    with torch.no_grad():
        assert torch.equal(model(*x), loaded.model(*x)), name
