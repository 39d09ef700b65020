"""Planted evidence: the class is decided only by a striped patch at a random place. A model that
learned it must be explained by maps that point into the patch, and deleting pixels in the
map's order must hurt the model faster than deleting them at random."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explain.config import ExplainConfig
from explain.quality import QualityConfig, deletion_insertion, perturbation_metrics
from explain.sections.config import ReportConfig
from explain.sections.gallery import image_overlays
from explain.sections.quality import best_method, quality_rows
from plugins.registry import registry

SIZE, PATCH, CLASSES = 32, 8, 3


def planted(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Images (N, 3, 32, 32) in [0, 1], labels, and a mask of each image's patch (N, 32, 32)."""
    g = torch.Generator().manual_seed(seed)
    x = 0.35 + 0.3 * torch.rand(n, 3, SIZE, SIZE, generator=g)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    masks = torch.zeros(n, SIZE, SIZE, dtype=torch.bool)
    rows, cols = torch.meshgrid(torch.arange(PATCH), torch.arange(PATCH), indexing="ij")
    patterns = [(rows % 2).float(), (cols % 2).float(), ((rows + cols) % 2).float()]  # =, ||, checks
    for i in range(n):
        r, c = (int(v) for v in torch.randint(0, SIZE - PATCH + 1, (2,), generator=g))
        x[i, :, r : r + PATCH, c : c + PATCH] = patterns[int(y[i])]
        masks[i, r : r + PATCH, c : c + PATCH] = True
    return x, y, masks


class PatchCNN(nn.Module):
    """Two conv stages at full resolution then global pooling: it can find a patch anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(32, CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(F.adaptive_max_pool2d(self.features(x), 1).flatten(1))


@pytest.fixture(scope="module")
def trained() -> tuple[nn.Module, Tensor, Tensor, Tensor]:
    torch.manual_seed(0)
    x, y, _ = planted(900, seed=0)
    model = PatchCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(8):
        for i in range(0, len(x), 50):
            loss = F.cross_entropy(model(x[i : i + 50]), y[i : i + 50])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    xt, yt, mt = planted(120, seed=1)
    return model, xt, yt, mt


def test_model_learns_the_planted_patch(trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y, _ = trained
    with torch.no_grad():
        assert float((model(x).argmax(1) == y).float().mean()) >= 0.95


def pointing_game(attributions: Tensor, masks: Tensor) -> float:
    """Share of examples whose largest attribution (channels summed) lies inside the patch."""
    heat = attributions.sum(1).flatten(1).argmax(1)
    return float(masks.flatten(1).gather(1, heat.view(-1, 1)).float().mean())


@pytest.mark.parametrize("name", ["integrated-gradients", "gradcam"])
def test_attributions_point_into_the_patch(name: str, trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y, masks = trained
    attr = registry.get("explainer", name)(ExplainConfig(n_steps=32))(model, x, y)
    assert pointing_game(attr, masks) >= 0.8


def test_integrated_gradients_deletion_beats_random_order(trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y, _ = trained
    x, y = x[:40], y[:40]
    attr = registry.get("explainer", "integrated-gradients")(ExplainConfig(n_steps=32))(model, x, y)
    curves = deletion_insertion(model, x, y, attr, QualityConfig(steps=16))
    assert curves["deletion_auc"] < curves["deletion_auc_random"]
    assert curves["insertion_auc"] > curves["insertion_auc_random"]


def test_perturbation_metrics_are_finite_and_ordered(trained) -> None:  # type: ignore[no-untyped-def]
    model, x, y, _ = trained
    x, y = x[:8], y[:8]
    cfg = ExplainConfig(n_steps=16)
    saliency, ig = (registry.get("explainer", n)(cfg) for n in ("saliency", "integrated-gradients"))
    got = {}
    for name, method in (("saliency", saliency), ("integrated-gradients", ig)):
        attr = method(model, x, y)
        got[name] = perturbation_metrics(model, x, y, attr, lambda a, t, m=method: m(model, a, t),
                                         QualityConfig(n_perturb=4))
        assert all(v >= 0 and v == v for v in got[name].values())  # non-negative, not NaN
    assert got["saliency"]["max_sensitivity"] > 0


@pytest.mark.parametrize("override", [None, "integrated-gradients", "gradcam"])
def test_gallery_heat_maps_put_their_hottest_pixels_in_the_patch(override: str | None,
                                                                 trained) -> None:  # type: ignore[no-untyped-def]
    """What the report's gallery draws (Captum's blended heat map, top 2% saturated) for the method
    the page finds most faithful, or the one --gallery-method names, lights up the patch."""
    model, x, y, masks = trained
    x, y, masks = x[:8], y[:8], masks[:8]
    cfg = ReportConfig(n_steps=16, gallery_method=override)
    if override is None:
        chosen = best_method(quality_rows(model, x, y, cfg))
        assert chosen in cfg.methods
        cfg = replace(cfg, gallery_method=chosen)
    pictures = image_overlays(model, x, y, [""] * len(x), cfg.gallery_explainer())
    inside = []
    for picture, mask in zip(pictures, masks, strict=True):
        assert picture.heat.shape == tuple(mask.shape) and picture.png[:4] == b"\x89PNG"
        hottest = torch.from_numpy(picture.heat >= picture.heat.max() - 1e-6)
        inside.append(float(mask[hottest].float().mean()))
    assert sum(inside) / len(inside) >= 0.8, inside
