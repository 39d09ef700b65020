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

    weights: str = option("auto", ref="weights",
                          help="auto (packaged if installed, else hub), hub, packaged, none, or a "
                                       "local path: safetensors, .pth state dict or an HF-style folder")
    image_size: int | None = option(None, help="input size (default: the backbone's own)")
    max_length: int = option(128, help="texts: longest input in tokens")
    pooling: str = option("mean", help="texts: mean or cls pooling")
    model_id: str | None = option(None, ref="inline", help="texts: hub id for --weights hub")
    options: dict[str, Any] = option(help="from-scratch models' own settings, KEY=VALUE,... (see Model zoo)",
                                     flag="model-options", parse="kv", default_factory=dict)

    def __post_init__(self) -> None:
        require(self, [
            ("weights", bool(self.weights), "must not be empty: auto, hub, packaged, none or a path"),
            ("image_size", self.image_size is None or 1 <= self.image_size <= MAX_IMAGE_SIZE,
             f"must be between 1 and {MAX_IMAGE_SIZE}"),
            ("max_length", 1 <= self.max_length <= MAX_LENGTH, f"must be between 1 and {MAX_LENGTH}"),
            ("pooling", self.pooling in ("mean", "cls"), "must be mean or cls"),
        ])
