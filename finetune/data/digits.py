"""scikit-learn's 8x8 handwritten digits."""

from __future__ import annotations

import torch

from finetune.data.config import DataOptions
from finetune.data.types import ImageData, SourceData


def load(arg: str | None, options: DataOptions) -> SourceData:
    """1,797 grayscale 8x8 images scaled to uint8, classes ``0``..``9``; no own test split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    pixels = torch.from_numpy(d.images).float().mul(255.0 / 16.0).round().clamp(0, 255)
    images = pixels.to(torch.uint8).unsqueeze(1)
    labels = torch.from_numpy(d.target).long()
    return SourceData("digits", ImageData(images, labels, [str(i) for i in range(10)]))


load.modality = "image"  # type: ignore[attr-defined]  # what clients show before loading
