"""Classical features of examples: downscaled pixels (and HOG where scikit-image is present) for images,
TF-IDF of words or characters for texts. Shared by the baseline and the near-duplicate search."""

from __future__ import annotations

import importlib.util
import statistics
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from finetune.data.types import Data, ImageData

PIXEL_SIDE = 16  # the baseline's pixels: a 16x16 thumbnail per channel (smaller images keep their size)
COPY_SIDE = 32  # near-copies are compared on 32x32 thumbnails


def thumbnails(data: ImageData, side: int) -> np.ndarray:
    """Every image as a float thumbnail of at most ``side`` pixels a side, flattened, in [0, 1].

    Shape: N images (C, H, W) -> (N, C * s * s) with s = min(side, H).
    """
    images = data.images
    s = min(side, int(images[0].shape[-1]), int(images[0].shape[-2]))
    channels = max(int(img.shape[0]) for img in images)
    out = []
    for start in range(0, len(images), 512):
        chunk = images[start:start + 512]
        if isinstance(chunk, torch.Tensor):
            batch = chunk.float().expand(-1, channels, -1, -1) / 255
            out.append(F.interpolate(batch, size=(s, s), mode="area").flatten(1).numpy())
        else:  # images of different sizes: each on its own
            out.append(np.stack([F.interpolate(img.float().expand(channels, -1, -1)[None] / 255, size=(s, s),
                                               mode="area").flatten().numpy() for img in chunk]))
    return np.concatenate(out).astype(np.float32)


def has_hog() -> bool:
    """Whether scikit-image (for HOG features) is installed."""
    return importlib.util.find_spec("skimage") is not None


def hog_vectors(data: ImageData, side: int = 32) -> np.ndarray:
    """Histograms of oriented gradients of each image's grey 32x32 thumbnail (scikit-image).

    Shape: N images -> (N, F).
    """
    from skimage.feature import hog

    flat = thumbnails(data, side)
    s = min(side, int(data.images[0].shape[-1]), int(data.images[0].shape[-2]))
    grey = flat.reshape(len(flat), -1, s, s).mean(1)
    cell = max(2, s // 4)
    return np.stack([hog(img, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
                     for img in grey]).astype(np.float32)


def spaceless(texts: Sequence[str]) -> bool:
    """Whether the texts are in a script without spaces between words (Chinese, Japanese, Thai, ...):
    a median of at most 2 words but more than 10 characters."""
    if not texts:
        return False
    words = statistics.median(len(t.split()) for t in texts)
    return words <= 2 and statistics.median(len(t) for t in texts) > 10


def text_analyzer(texts: Sequence[str]) -> dict[str, object]:
    """TF-IDF settings for these texts: word 1-2 grams, or characters 1-3 for scripts without spaces."""
    if spaceless(texts):
        return {"analyzer": "char", "ngram_range": (1, 3)}
    return {"analyzer": "word", "ngram_range": (1, 2)}


def describe(settings: dict[str, object]) -> str:
    """``TF-IDF word 1-2 grams`` for the settings ``text_analyzer`` gave."""
    grams: tuple[int, int] = settings["ngram_range"]  # type: ignore[assignment]
    return f"TF-IDF {settings['analyzer']} {grams[0]}-{grams[1]} grams"


def tfidf(fit_on: Sequence[str], settings: dict[str, object]):  # type: ignore[no-untyped-def]
    """A TF-IDF vectorizer (sublinear counts, L2-normalized rows) fitted on ``fit_on``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, **settings).fit(list(fit_on))  # type: ignore[arg-type]


def is_image(data: Data) -> bool:
    """Whether ``data`` holds images."""
    return isinstance(data, ImageData)
