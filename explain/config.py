"""An explainer's settings (declarations only: no torch); each explainer reads the ones it needs."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.schema import require


@dataclass(frozen=True)
class ExplainConfig:
    """Method settings; each explainer reads the ones it needs."""

    n_steps: int = 50  # integrated gradients: path steps
    internal_batch_size: int | None = None  # integrated gradients: None = chosen from the model's size
    n_samples: int = 20  # gradient-shap samples, smoothgrad samples
    stdevs: float = 0.1  # smoothgrad / gradient-shap noise, in pixel units
    window: int = 8  # occlusion: square window side in pixels
    stride: int = 4  # occlusion: window stride
    layer: str | None = None  # gradcam: module name; None = found automatically
    base: str = "saliency"  # smoothgrad: the explainer it smooths
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        require(self, [(name, getattr(self, name) >= 1, "must be at least 1")
                       for name in ("n_steps", "n_samples", "window", "stride", "batch_size")])
        require(self, [("stdevs", self.stdevs >= 0, "must be 0 or more")])
