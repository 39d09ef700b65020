"""How to build a backbone: the part of a run config that names weights, sizes and a model's own options.

Declarations only (no torch): the CLI, the service's schemas and the docs read it without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugins.schema import option, require

WEIGHT_SOURCES = ("auto", "hub", "packaged", "none")
MAX_IMAGE_SIZE = 4096  # pixels per side
MAX_LENGTH = 8192  # tokens


@dataclass(frozen=True)
class BackboneConfig:
    """How to build a backbone.

    ``weights``: ``auto`` (packaged when this machine has them, else hub), ``hub``,
    ``packaged``, ``none`` or a local path (safetensors, ``.pth`` state dict, HF folder).
    ``options``: a from-scratch model's own settings (``--model-options depth=3,width=32``).
    """

    weights: str = option("auto", min_length=1, ref="weights",
                          help="auto (packaged if installed, else hub), hub, packaged, none, or a "
                                       "local path: safetensors, .pth state dict or an HF-style folder")
    image_size: int | None = option(None, ge=1, le=MAX_IMAGE_SIZE,
                                    help="input size (default: the backbone's own)")
    max_length: int = option(128, ge=1, le=MAX_LENGTH, help="texts: longest input in tokens")
    pooling: str = option("mean", choices=("mean", "cls"), help="texts: mean or cls pooling")
    model_id: str | None = option(None, ref="inline", help="texts: hub id for --weights hub")
    options: dict[str, Any] = option(help="from-scratch models' own settings, KEY=VALUE,... (see Model zoo)",
                                     flag="model-options", parse="kv", default_factory=dict)

    def __post_init__(self) -> None:
        require(self, [])
