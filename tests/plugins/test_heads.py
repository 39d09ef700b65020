"""Head plugins: shapes, training through the recipe, and the bundle round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from plugins import RobustuneError
from plugins.bundle import load_bundle
from plugins.registry import registry


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_head_maps_features_to_logits(name: str) -> None:
    head = registry.get("head", name)(12, 3, dropout=0.1)
    assert head(torch.randn(5, 12)).shape == (5, 3)


def test_identity_head_needs_one_output_per_class() -> None:
    assert registry.get("head", "identity")(3, 3)(torch.ones(2, 3)).shape == (2, 3)
    with pytest.raises(RobustuneError, match="one output per class"):
        registry.get("head", "identity")(12, 3)


def test_mlp_head_trains_and_round_trips(tmp_path: Path) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    out = tmp_path / "mlp"
    opts = {"data": "digits", "backbone": "resnet18", "weights": "none", "adapter": "full", "head": "mlp",
            "image_size": 16, "per_class": 20, "epochs": 2, "out": str(out)}
    run_training(from_options(opts))
    bundle = load_bundle(out)
    assert bundle.meta.model.head == "mlp"
    hidden = [m for m in bundle.model.head.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in hidden] == [(512, 256), (256, 10)]
    x = torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(bundle.model(x), load_bundle(out).model(x))
