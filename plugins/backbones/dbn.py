"""``dbn``: a deep belief network's feed-forward form, sigmoid layers pretrained as stacked RBMs.

The greedy RBM pretraining lives in the ``dbn`` recipe (finetune/recipes/dbn.py); this is the
network it initializes and that backpropagation then fine-tunes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from plugins.backbones.scratch import ScratchBackbone, gray, scratch_factory


def sizes(spec: str) -> list[int]:
    """``"256-128"`` -> ``[256, 128]``."""
    return [int(s) for s in str(spec).split("-") if s]


class DBN(ScratchBackbone):
    """Grayscale pixels in [0, 1] as visible units, then ``hidden`` sigmoid layers.

    Shape: (N, 3, H, W) in [0, 1] -> (N, H * W) -> (N, last hidden size).
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {"hidden": "500-500", "cd_k": 1, "rbm_epochs": 20,
                                          "rbm_lr": 0.05, "rbm_batch": 32}
    TRAINING: ClassVar[dict[str, dict[str, Any]]] = {"*": {"epochs": 60, "lr": 3e-3}}
    MEAN = 0.0
    STD = 1.0  # visible units are pixel intensities
    plugin = "dbn"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widths = [self.image_size * self.image_size, *sizes(self.opts["hidden"])]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False))
        self.num_features = widths[-1]

    def visible(self, x: Tensor) -> Tensor:
        """Shape: (N, 3, H, W) -> (N, H * W)."""
        return gray(x).flatten(1)

    def forward_image(self, x: Tensor) -> Tensor:
        h = self.visible(x)
        for layer in self.layers:
            h = torch.sigmoid(layer(h))
        return h

    def blocks(self) -> list[list[nn.Module]]:
        return [[layer] for layer in self.layers]


dbn = scratch_factory({"image": DBN}, "dbn",
                      "from scratch: deep belief network, stacked RBMs (CD-k) then backprop; images")
dbn.recipe = "dbn"  # type: ignore[attr-defined]
