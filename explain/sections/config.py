"""What goes into a report and how much work it may take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explain.base import ExplainConfig
from plugins.registry import registry


@dataclass(frozen=True)
class ReportConfig:
    """Gallery size, how many examples the quality metrics use, which methods they compare."""

    gallery: int = 4  # examples per gallery
    quality_n: int = 8  # images the quality metrics use
    methods: tuple[str, ...] = ("integrated-gradients", "saliency", "gradcam")
    n_steps: int = 32
    positive: str | None = None  # bias metrics: the positive class


def integrated_gradients(n_steps: int) -> Any:
    """The explainer the galleries use."""
    return registry.get("explainer", "integrated-gradients")(ExplainConfig(n_steps=n_steps, batch_size=8))
