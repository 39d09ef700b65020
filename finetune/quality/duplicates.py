"""Near-duplicates: examples whose classical features (32x32 thumbnails, centred, or TF-IDF) have cosine
>= 0.99, found across splits (a holdout example that copies a training one inflates the accuracy a
report quotes) or within one pool (``--dedupe`` keeps one of each group before splitting)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finetune.data.types import Data, ImageData
from finetune.quality.vectors import COPY_SIDE, text_analyzer, tfidf, thumbnails

THRESHOLD = 0.99
CHUNK = 1024


@dataclass(frozen=True)
class Copy:
    """Example ``a`` of split ``split_a`` and example ``b`` of ``split_b`` are near-copies."""

    split_a: str
    a: int
    split_b: str
    b: int
    cosine: float


def unit_vectors(parts: list[Data]) -> list[object]:
    """Each part's examples as unit rows (dense for images, sparse TF-IDF for texts), in one space.

    Shape: parts of N_i examples -> (N_i, F) each.
    """
    if isinstance(parts[0], ImageData):
        out = []
        for part in parts:
            assert isinstance(part, ImageData)
            x = thumbnails(part, COPY_SIDE)
            x = x - x.mean(1, keepdims=True)  # a brighter copy is still a copy
            out.append(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8))
        return out
    texts = [t for part in parts for t in part.texts]  # type: ignore[union-attr]
    vec = tfidf(texts, text_analyzer(texts))
    return [vec.transform(part.texts) for part in parts]  # type: ignore[union-attr]


def _pairs(x: object, y: object, threshold: float, same: bool) -> list[tuple[int, int, float]]:
    """Row pairs (i, j) of ``x`` and ``y`` with cosine >= threshold (``same``: i < j only)."""
    found: list[tuple[int, int, float]] = []
    n = x.shape[0]  # type: ignore[attr-defined]
    for start in range(0, n, CHUNK):
        block = x[start:start + CHUNK] @ y.T  # type: ignore[index,attr-defined]
        dense = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
        rows, cols = np.nonzero(dense >= threshold)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if not same or start + i < j:
                found.append((start + i, j, float(dense[i, j])))
    return found


def across(splits: dict[str, Data], threshold: float = THRESHOLD) -> list[Copy]:
    """Near-copies between every two of ``splits`` (name -> data), most similar first."""
    names = [n for n, d in splits.items() if len(d)]
    vectors = dict(zip(names, unit_vectors([splits[n] for n in names]), strict=True))
    found = [Copy(a, i, b, j, c) for k, a in enumerate(names) for b in names[k + 1:]
             for i, j, c in _pairs(vectors[a], vectors[b], threshold, False)]
    return sorted(found, key=lambda c: -c.cosine)


def copies_of(data: Data, reference: Data, threshold: float = THRESHOLD) -> list[int]:
    """Indices of ``data``'s examples that nearly copy one of ``reference``'s."""
    x, y = unit_vectors([data, reference])
    return sorted({i for i, _, _ in _pairs(x, y, threshold, False)})


def repeats(data: Data, threshold: float = THRESHOLD) -> list[int]:
    """Indices of examples that nearly copy an earlier example of ``data`` (all but the first of each
    group)."""
    (x,) = unit_vectors([data])
    return sorted({j for _, j, _ in _pairs(x, x, threshold, True)})


def count_by_pair(copies: list[Copy]) -> dict[str, int]:
    """``{"train-test": 3, ...}``: distinct examples of the second split that copy one of the first."""
    seen: dict[str, set[int]] = {}
    for c in copies:
        seen.setdefault(f"{c.split_a}-{c.split_b}", set()).add(c.b)
    return {k: len(v) for k, v in seen.items()}

