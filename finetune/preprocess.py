"""Preprocessing from the backbone's own config: resize images, or tokenize texts."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from finetune.data.types import Data, ImageData
from plugins.errors import RobustuneError

Inputs = dict[str, Tensor]


def _resize(batch: Tensor, size: int) -> Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, 3, size, size); grayscale repeated to RGB."""
    x = batch.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


def prepare_images(images: Tensor | list[Tensor], size: int, chunk: int = 512) -> Tensor:
    """Resize to the model's input size. Shape: (N, C, H, W) or list -> (N, 3, size, size) uint8."""
    if isinstance(images, Tensor):
        parts = [_resize(images[i : i + chunk], size) for i in range(0, len(images), chunk)]
        return torch.cat(parts) if parts else torch.empty(0, 3, size, size, dtype=torch.uint8)
    return torch.cat([_resize(img.unsqueeze(0), size) for img in images])


def tokenize(texts: list[str], tokenizer: Any, max_length: int) -> Inputs:
    """Token ids and mask, padded to the longest text. Shape: -> (N, L), (N, L)."""
    enc = tokenizer(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def prepare_inputs(data: Data, preprocessing: dict[str, Any], tokenizer: Any = None) -> Inputs:
    """Model inputs for ``data`` under a bundle's or backbone's preprocessing dict."""
    modality = preprocessing["modality"]
    if modality != data.modality:
        raise RobustuneError(
            f"the model takes {modality} but the data is {data.modality}; "
            f"pick a {data.modality} backbone or {modality} data"
        )
    if isinstance(data, ImageData):
        return {"pixels": prepare_images(data.images, int(preprocessing["input_size"][-1]))}
    return tokenize(data.texts, tokenizer, int(preprocessing["max_length"]))
