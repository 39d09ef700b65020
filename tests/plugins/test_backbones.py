"""Contract test over every pretrained backbone: builds, gives (N, F) features, has blocks."""

from __future__ import annotations

import pytest
import torch

from plugins.backbones import BackboneConfig, backbone_modality, build_backbone
from plugins.classifier import ImageClassifier, TextClassifier
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry

PRETRAINED = [n for n in registry.names("backbone")
              if not getattr(registry.get("backbone", n), "from_scratch", False)]  # tests/zoo has those


@pytest.mark.parametrize("name", PRETRAINED)
def test_backbone_contract(name: str) -> None:
    modality = backbone_modality(name)
    weights = "none" if modality == "image" else "packaged"
    backbone = build_backbone(name, BackboneConfig(weights=weights, image_size=32))
    assert backbone.modality == modality
    assert len(backbone.blocks()) >= 2
    pre = backbone.preprocessing()
    assert pre["modality"] == modality
    if modality == "image":
        x = torch.rand(2, 3, 32, 32)
        assert pre["input_size"] == [3, 32, 32] and len(pre["mean"]) == len(pre["std"]) == 3
        with torch.no_grad():
            assert backbone(x).shape == (2, backbone.num_features)
    else:
        enc = backbone.tokenizer(["hello there", "a film"], padding=True, return_tensors="pt")
        with torch.no_grad():
            feats = backbone(enc["input_ids"], enc["attention_mask"])
        assert feats.shape == (2, backbone.num_features)


def test_classifier_normalizes_inside() -> None:
    spec = ModelSpec("resnet18", 3, BackboneConfig(weights="none", image_size=32))
    model = build_classifier(spec).eval()
    assert isinstance(model, ImageClassifier)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        direct = model.head(model.backbone((x - model.mean) / model.std))
        assert torch.equal(model(x), direct)
    assert model.mean.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406])


def test_text_classifier_returns_plain_logits() -> None:
    model = build_classifier(ModelSpec("bert", 2)).eval()
    assert isinstance(model, TextClassifier)
    ids = torch.tensor([[101, 2307, 2143, 102]])
    with torch.no_grad():
        out = model(ids, torch.ones_like(ids))
    assert type(out) is torch.Tensor and out.shape == (1, 2)
    assert model.get_input_embeddings().weight.shape[1] == 384
