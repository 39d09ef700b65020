"""SmoothGrad (Smilkov et al. 2017): any explainer averaged over noisy copies (Captum NoiseTunnel)."""

from __future__ import annotations

from typing import Any

from captum.attr import NoiseTunnel
from torch import Tensor, nn

from explain.base import Explainer
from plugins.errors import InvalidInput, opt
from plugins.registry import registry


class SmoothGradExplainer(Explainer):
    """``base`` (default saliency) over ``n_samples`` copies with Gaussian noise of ``stdevs``."""

    name = "smoothgrad"

    def _base(self) -> Explainer:
        if self.cfg.base in ("smoothgrad", "gradcam", "occlusion"):
            raise InvalidInput(f"smoothgrad cannot wrap {self.cfg.base}; use {opt('base')} saliency, "
                               "integrated-gradients, input-x-gradient, gradient-shap, deeplift or lrp")
        return registry.get("explainer", self.cfg.base)(self.cfg)  # type: ignore[no-any-return]

    def captum(self, model: nn.Module) -> Any:
        return NoiseTunnel(self._base().captum(model))

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"nt_type": "smoothgrad", "nt_samples": self.cfg.n_samples, "stdevs": self.cfg.stdevs,
                **self._base().kwargs(model, x)}

    def passes_per_input(self) -> int:
        return self.cfg.n_samples * self._base().passes_per_input()


explainer = SmoothGradExplainer
