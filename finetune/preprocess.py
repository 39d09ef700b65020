"""Preprocessing from the backbone's own config: resize images, or tokenize texts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from finetune.data.types import Data, ImageData
from plugins.errors import InvalidInput

if TYPE_CHECKING:
    from plugins.meta import Preprocessing

Inputs = dict[str, Tensor]


def _resize(batch: Tensor, size: int) -> Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, 3, size, size); grayscale repeated to RGB."""
    x = batch.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


CHUNK_BYTES = 256 * 1024**2  # float working memory of one resize chunk


def prepare_images(images: Tensor | list[Tensor], size: int) -> Tensor:
    """Resize to the model's input size. Shape: (N, C, H, W) or list -> (N, 3, size, size) uint8.

    The result is allocated once and filled in chunks of bounded float memory; a result that
    cannot fit in memory is refused (one line) before anything is allocated.
    """
    from finetune.memory import check_inputs_fit

    check_inputs_fit(len(images), size)
    out = torch.empty(len(images), 3, size, size, dtype=torch.uint8)
    if isinstance(images, Tensor):
        side = max(size, *images.shape[-2:]) if len(images) else size
        chunk = max(1, CHUNK_BYTES // (4 * 3 * side * side))
        for i in range(0, len(images), chunk):
            out[i : i + chunk] = _resize(images[i : i + chunk], size)
        return out
    for i, img in enumerate(images):
        out[i] = _resize(img.unsqueeze(0), size)[0]
    return out


CHARS_PER_TOKEN = 32  # a token is rarely longer: the text past max_length * this can never be read


def tokenize(texts: list[str], tokenizer: Any, max_length: int) -> Inputs:
    """Token ids and mask, padded to the longest text; each text is cut to ``CHARS_PER_TOKEN`` characters
    per token first (a tokenizer reads a whole text before it truncates). Shape: -> (N, L), (N, L)."""
    cut = max_length * CHARS_PER_TOKEN
    enc = tokenizer(
        [t[:cut] for t in texts], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def prepare_inputs(data: Data, preprocessing: dict[str, Any] | Preprocessing,
                   tokenizer: Any = None) -> Inputs:
    """Model inputs for ``data`` under a bundle's preprocessing or a backbone's preprocessing dict."""
    if not isinstance(preprocessing, dict):
        preprocessing = preprocessing.to_json()
    modality = preprocessing["modality"]
    if modality != data.modality:
        raise InvalidInput(
            f"the model takes {modality} but the data is {data.modality}; "
            f"pick a {data.modality} backbone or {modality} data"
        )
    if isinstance(data, ImageData):
        return {"pixels": prepare_images(data.images, int(preprocessing["input_size"][-1]))}
    return tokenize(data.texts, tokenizer, int(preprocessing["max_length"]))
