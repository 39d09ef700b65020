"""Image augmentation on float batches in [0, 1]: shifts, flips and colour jitter."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from plugins.errors import InvalidInput

AUGMENTATIONS = ("shift", "flip", "color")


def parse_augment(spec: str | None) -> tuple[str, ...]:
    """``"shift,flip"`` -> ``("shift", "flip")``; ``none``/empty -> ``()``."""
    if not spec or spec == "none":
        return ()
    parts = tuple(p.strip() for p in spec.split(",") if p.strip())
    unknown = [p for p in parts if p not in AUGMENTATIONS]
    if unknown:
        raise InvalidInput(
            f"unknown augmentation {unknown[0]!r}; use a comma list of {', '.join(AUGMENTATIONS)}"
        )
    return parts


def augment(x: Tensor, kinds: tuple[str, ...]) -> Tensor:
    """Random augmentation with the global torch RNG. Shape: (N, C, H, W) -> same."""
    if "shift" in kinds:
        pad = max(1, x.shape[-1] // 8)
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx, dy = torch.randint(0, 2 * pad + 1, (2,)).tolist()
        x = padded[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]
    if "flip" in kinds:
        flip = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if "color" in kinds:
        n = x.shape[0]
        gain = 1 + 0.2 * (torch.rand(n, 1, 1, 1, device=x.device) - 0.5)
        bias = 0.1 * (torch.rand(n, 1, 1, 1, device=x.device) - 0.5)
        x = x * gain + bias
    return x.clamp(0.0, 1.0)
