"""The built-in adapters' shared settings (declarations only: no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from plugins.schema import option, require


@dataclass(frozen=True)
class AdapterConfig:
    """``backbone_lr_mult`` scales the backbone's learning rate; ``unfreeze`` counts blocks.

    ``lr_decay``: each block below the top trains at this times the rate of the block above
    (discriminative and gradual); ``unfreeze_every``: epochs between unfreezing one more block
    (gradual); ``lora_*``: rank, scale, dropout and target layer names (empty: by model type).
    """

    backbone_lr_mult: float = option(0.1, help="backbone learning rate / head learning rate (full, partial)")
    unfreeze: int = option(2, help="blocks trained by the partial adapter")
    lr_decay: float = option(0.8, help="gradual, discriminative: each block below the top trains at this "
                                       "times the rate of the block above")
    unfreeze_every: int = option(1, help="gradual: epochs between unfreezing one more block")
    lora_r: int = option(8, help="lora: rank")
    lora_alpha: float = option(16.0, help="lora: scale numerator (scale = alpha / r)")
    lora_dropout: float = option(0.0, help="lora: dropout on the adapter input")
    lora_targets: str = option("", help="lora: comma list of layer names (default: query,value for "
                                        "BERT-family encoders, every Linear and ungrouped Conv2d otherwise)")

    def __post_init__(self) -> None:
        require(self, [("lr_decay", 0 < self.lr_decay <= 1, "must be in (0, 1]"),
                       ("unfreeze_every", self.unfreeze_every >= 1, "must be at least 1"),
                       ("unfreeze", self.unfreeze >= 0, "must be 0 or more"),
                       ("lora_r", 1 <= self.lora_r <= 4096, "must be between 1 and 4096"),
                       ("lora_alpha", math.isfinite(self.lora_alpha) and self.lora_alpha > 0,
                        "must be positive"),
                       ("lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)"),
                       ("backbone_lr_mult",
                        math.isfinite(self.backbone_lr_mult) and self.backbone_lr_mult > 0,
                        "must be positive")])
