"""Explainer contract over the registry, and agreement with Captum called directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import Tensor, nn

from explain.base import activation_bytes, auto_internal_batch
from explain.config import ExplainConfig
from explain.methods.deeplift import without_inplace
from explain.methods.gradcam import find_layer
from explain.methods.lrp import unsupported_layers
from plugins import RobustuneError
from plugins.backbones import BackboneConfig
from plugins.classifier import ImageClassifier
from plugins.model import ModelSpec, build_classifier
from plugins.registry import registry

EXPLAINERS = [n for n in registry.names("explainer") if "image" in registry.get("explainer", n).modalities]
Batch = tuple[Tensor, Tensor]
CFG = ExplainConfig(n_steps=8, n_samples=4, window=4, stride=4, batch_size=4)


@pytest.fixture(scope="module")
def model() -> ImageClassifier:
    torch.manual_seed(0)
    m = build_classifier(ModelSpec("resnet18", 3, BackboneConfig(weights="none", image_size=16)))
    assert isinstance(m, ImageClassifier)
    return m.eval()


@pytest.fixture(scope="module")
def batch() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 3, 16, 16, generator=g), torch.tensor([0, 1, 2, 0, 1, 2])


class SmallCNN(nn.Module):
    """Conv, ReLU, pooling and linear only: every layer has an LRP rule."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).flatten(1))


@pytest.mark.parametrize("name", EXPLAINERS)
def test_explainer_returns_input_shape(name: str, model: ImageClassifier, batch: Batch) -> None:
    x, t = batch
    net: nn.Module = SmallCNN().eval() if name == "lrp" else model
    attr = registry.get("explainer", name)(CFG)(net, x, t)
    assert attr.shape == x.shape and torch.isfinite(attr).all()
    assert float(attr.abs().sum()) > 0
    assert all(p.requires_grad for p in net.parameters())  # restored afterwards


def _direct(name: str, model: nn.Module, x: Tensor, t: Tensor) -> Tensor:
    """Captum called by hand with the arguments the explainer documents."""
    torch.manual_seed(CFG.seed)
    np.random.seed(CFG.seed)
    if name == "integrated-gradients":
        return IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=t, n_steps=8,
                                                    internal_batch_size=auto_internal_batch(model, x, 8))
    if name == "saliency":
        return Saliency(model).attribute(x, target=t, abs=True)
    if name == "input-x-gradient":
        return InputXGradient(model).attribute(x, target=t)
    if name == "occlusion":
        return Occlusion(model).attribute(x, sliding_window_shapes=(3, 4, 4), strides=(3, 4, 4),
                                          baselines=0.0, target=t, perturbations_per_eval=16)
    if name == "gradient-shap":
        base = torch.stack([torch.zeros(3, 16, 16), torch.ones(3, 16, 16)])
        return GradientShap(model).attribute(x, baselines=base, n_samples=4, stdevs=0.1, target=t)
    if name == "deeplift":
        return DeepLift(without_inplace(model)).attribute(x, baselines=torch.zeros_like(x), target=t)
    if name == "gradcam":
        cam = LayerGradCam(model, find_layer(model)[1]).attribute(x, target=t, relu_attributions=True)
        return LayerAttribution.interpolate(cam, (16, 16), interpolate_mode="bilinear").expand(-1, 3, -1, -1)
    if name == "smoothgrad":
        return NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=4, stdevs=0.1,
                                                      target=t, abs=True)
    raise KeyError(name)


@pytest.mark.parametrize("name", [n for n in EXPLAINERS if n != "lrp"])
def test_explainer_equals_captum_direct(name: str, model: ImageClassifier, batch: Batch) -> None:
    x, t = batch[0][:4], batch[1][:4]  # one batch of the explainer
    ours = registry.get("explainer", name)(CFG)(model, x, t)
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        direct = _direct(name, model, x, t)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    assert torch.allclose(ours, direct.detach(), atol=1e-6, rtol=1e-5)


def test_gradcam_finds_the_last_stage_and_takes_an_override(model: ImageClassifier) -> None:
    assert find_layer(model)[0] == "backbone.model.layer4"
    assert find_layer(SmallCNN())[0] == "features.3"
    assert find_layer(model, "backbone.model.layer3")[0] == "backbone.model.layer3"
    with pytest.raises(RobustuneError, match="no layer 'backbone.model.layer9'; did you mean"):
        find_layer(model, "backbone.model.layer9")
    with pytest.raises(RobustuneError, match="needs a convolution layer"):
        find_layer(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)))


def test_lrp_refuses_layers_without_rules(model: ImageClassifier, batch: Batch) -> None:
    assert unsupported_layers(SmallCNN()) == []
    spec = ModelSpec("efficientnet_lite0", 3, BackboneConfig(weights="none", image_size=32))
    effnet = build_classifier(spec)
    assert "ReLU6" in unsupported_layers(effnet)
    with pytest.raises(RobustuneError, match="no LRP rule for .*ReLU6"):
        registry.get("explainer", "lrp")(CFG)(effnet, batch[0][:1], batch[1][:1])


def test_internal_batch_follows_the_memory_budget(model: ImageClassifier, batch: Batch) -> None:
    x = batch[0]
    per = activation_bytes(model, x[:1])
    assert per > x[:1].numel() * 4
    assert auto_internal_batch(model, x, 50, budget=per * 7) == 7
    assert auto_internal_batch(model, x, 50, budget=1) == 1
    assert auto_internal_batch(model, x, 2, budget=1 << 40) == 2 * len(x)


def test_bad_settings() -> None:
    with pytest.raises(RobustuneError, match="n_steps must be at least 1") as caught:
        ExplainConfig(n_steps=0)
    assert caught.value.field == "n_steps" and "--" not in str(caught.value)
    with pytest.raises(RobustuneError, match="smoothgrad cannot wrap gradcam"):
        smooth = registry.get("explainer", "smoothgrad")(ExplainConfig(base="gradcam"))
        smooth(SmallCNN(), torch.rand(1, 3, 8, 8), torch.tensor([0]))
