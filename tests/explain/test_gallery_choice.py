"""The report's galleries and method choice teach: mistakes from the most confused class pairs first,
and a method with mostly empty maps or another method's maps (DeepLift where it has no rule for the
activations: Input x Gradient) is marked and never chosen."""

from __future__ import annotations

import torch
from torch import nn

from explain.config import ExplainConfig
from explain.sections.gallery import confused_first
from explain.sections.quality import best_method, marks
from plugins.registry import registry


def test_mistakes_come_from_the_most_confused_pairs_first() -> None:
    labels = torch.tensor([1, 1, 1, 1, 1, 0, 0, 2, 2, 0])
    pred = torch.tensor([2, 2, 2, 2, 2, 1, 1, 0, 2, 0])  # 1 -> 2 five times, 0 -> 1 twice, 2 -> 0 once
    picked, pairs = confused_first(labels, pred, 4)
    assert [p for p, _ in pairs] == [(1, 2), (0, 1), (2, 0)] and [n for _, n in pairs] == [5, 2, 1]
    assert picked.tolist() == [0, 5, 7, 1]  # one of each pair in turn, the most frequent first


def test_deeplift_without_rules_is_marked_as_input_x_gradient_and_not_chosen() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 3)).eval()  # ReLU6, as in EfficientNet-Lite: DeepLift has no rule
    x, target = torch.rand(6, 3, 12, 12), torch.tensor([0, 1, 2, 0, 1, 2])
    cfg = ExplainConfig(n_steps=8, batch_size=8)
    maps = {name: registry.get("explainer", name)(cfg)(model, x, target)
            for name in ("input-x-gradient", "deeplift", "saliency")}
    maps["empty"] = torch.zeros_like(x)
    found = marks(maps)
    assert found["deeplift"] == "the same maps as input-x-gradient", found
    assert found["empty"].startswith("100% of its maps are empty") and "saliency" not in found
    rows = [{"method": "deeplift", "deletion_auc": 0.1, "deletion_auc_random": 0.9,
             "mark": found["deeplift"]},
            {"method": "saliency", "deletion_auc": 0.5, "deletion_auc_random": 0.6, "mark": ""}]
    assert best_method(rows) == "saliency"  # deeplift's better numbers do not count
