"""Decoding image files into uint8 RGB tensors: a pixel cap, reduction on load, any bit depth.

Images above ``MAX_PIXELS`` are refused before they are decoded. With a working ``side`` (the
model's input size) an image is reduced on load by the largest integer factor that keeps its
shorter side at least ``side`` (JPEGs are even decoded at that scale), so a folder of huge
photos costs little memory. 16-bit and float images are scaled to 8 bits, not clipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from plugins.errors import InvalidInput, RobustuneError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
MAX_PIXELS = 150_000_000  # decoded pixels per image (12000 x 12000 passes; 3 bytes each in RGB)
DEFAULT_SIDE = 256  # reduction target when the working size is not known yet
UNREADABLE = (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError)


@contextmanager
def _own_pixel_cap() -> Iterator[None]:
    """Open images under our cap (``MAX_PIXELS``) instead of Pillow's bomb check."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images scaled to 8-bit grayscale (not clipped)."""
    if not img.mode.startswith(("I", "F")):
        return img
    array = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16") or (img.mode == "I" and array.max(initial=0) > 255):
        top = 65535.0 if array.max(initial=0) <= 65535 else float(array.max())
        array = array * (255.0 / top)
    elif img.mode == "F" and array.max(initial=0) <= 1.0:
        array = array * 255.0
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), mode="L")


def _reduce(img: Image.Image, side: int | None) -> Image.Image:
    if side is None:
        return img
    factor = min(img.size) // side
    if factor < 2:
        return img
    if img.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        img = img.convert("RGBA" if "transparency" in img.info or img.mode.endswith("A") else "RGB")
    return img.reduce(factor)


def read_image(path: Path, side: int | None = None) -> Tensor:
    """One image as uint8 RGB, reduced on load toward ``side``. Shape: -> (3, H, W).

    Raises ``RobustuneError`` for an image above the pixel cap and OSError/ValueError when unreadable.
    """
    with _own_pixel_cap():
        opened = Image.open(path)
    with opened:
        width, height = opened.size
        if width * height > MAX_PIXELS:
            raise InvalidInput(
                f"image {path} is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the "
                f"{MAX_PIXELS // 1_000_000}-megapixel limit; downscale it or remove it"
            )
        if side is not None and opened.format == "JPEG":
            opened.draft("RGB", (side, side))  # decode at a reduced scale, never below side
        with _own_pixel_cap():
            opened.load()
        img = _reduce(_to_8bit(opened), side)
        if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        rgb = img.convert("RGB")
    array = np.asarray(rgb, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def try_read_image(path: Path, side: int | None = None) -> Tensor | None:
    """``read_image`` or ``None`` when the file is corrupt or not an image (too large still raises)."""
    try:
        return read_image(path, side)
    except RobustuneError:
        raise
    except UNREADABLE:
        return None
