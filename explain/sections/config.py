"""What goes into a report and how much work it may take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from explain.config import ExplainConfig
from plugins.registry import registry

if TYPE_CHECKING:
    from explain.base import Explainer


@dataclass(frozen=True)
class ReportConfig:
    """Gallery size, how many examples the quality metrics use, which methods they compare."""

    gallery: int = 4  # examples per gallery
    quality_n: int = 8  # images the quality metrics use
    methods: tuple[str, ...] = ("integrated-gradients", "saliency", "gradcam")
    n_steps: int = 32
    positive: str | None = None  # bias metrics: the positive class
    gallery_method: str | None = None  # the galleries' explainer; None: the most faithful by deletion
    shortcut_n: int = 16  # images per predicted class explained to look for shortcuts (0: none)
    shortcut_method: str = "integrated-gradients"  # saw a planted stamp where Grad-CAM did not

    def gallery_explainer(self) -> Explainer:
        """The explainer the galleries and the clean-versus-adversarial pictures use."""
        return explainer(self.gallery_method or "integrated-gradients", self.n_steps)


def explainer(name: str, n_steps: int) -> Explainer:
    """A registered explainer with the report's settings."""
    return registry.get("explainer", name)(ExplainConfig(n_steps=n_steps, batch_size=8))  # type: ignore[no-any-return]
