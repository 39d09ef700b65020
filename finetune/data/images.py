"""Decoding image files into uint8 tensors (grayscale and RGBA converted to RGB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def read_image(path: Path) -> Tensor:
    """One image as uint8 RGB. Shape: -> (3, H, W). Raises OSError/ValueError when unreadable."""
    with Image.open(path) as opened:
        opened.load()
        img: Image.Image = opened
        if img.mode in ("RGBA", "LA", "P"):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        rgb = img.convert("RGB")
    array = np.asarray(rgb, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def try_read_image(path: Path) -> Tensor | None:
    """``read_image`` or ``None`` when the file is corrupt or not an image."""
    try:
        return read_image(path)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
