"""The built-in adapters' shared settings (declarations only: no torch)."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.schema import option, require


@dataclass(frozen=True)
class AdapterConfig:
    """``backbone_lr_mult`` scales the backbone's learning rate; ``unfreeze`` counts blocks.

    ``lr_decay``: each block below the top trains at this times the rate of the block above
    (discriminative and gradual); ``unfreeze_every``: epochs between unfreezing one more block
    (gradual); ``lora_*``: rank, scale, dropout and target layer names (empty: by model type).
    """

    backbone_lr_mult: float = option(0.1, gt=0,
                                     help="backbone learning rate / head learning rate (full, partial)")
    unfreeze: int = option(2, ge=0, help="blocks trained by the partial adapter")
    lr_decay: float = option(0.8, gt=0, le=1,
                             help="gradual, discriminative: each block below the top trains at this "
                                  "times the rate of the block above")
    unfreeze_every: int = option(1, ge=1, help="gradual: epochs between unfreezing one more block")
    lora_r: int = option(8, ge=1, le=4096, help="lora: rank")
    lora_alpha: float = option(16.0, gt=0, help="lora: scale numerator (scale = alpha / r)")
    lora_dropout: float = option(0.0, ge=0, lt=1, help="lora: dropout on the adapter input")
    lora_targets: str = option("", help="lora: comma list of layer names (default: query,value for "
                                        "BERT-family encoders, every Linear and ungrouped Conv2d otherwise)")

    def __post_init__(self) -> None:
        require(self, [])
