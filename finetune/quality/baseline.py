"""The classical baseline beside every model: logistic regression on TF-IDF (texts: word 1-2 grams, or
characters 1-3 for scripts without spaces) or on downscaled pixels (images; and on HOG where scikit-image
is present), its inverse L2 strength C (and, for images, the features) chosen on validation, then refit
on training + validation as the linear probe is, and scored on the same holdout as the model."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from finetune.data.splits import Splits, stratified_take
from finetune.data.types import Data, ImageData
from finetune.quality.vectors import (
    PIXEL_SIDE,
    describe,
    has_hog,
    hog_vectors,
    text_analyzer,
    tfidf,
    thumbnails,
)

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
MAX_TRAIN = 20_000  # larger training splits are subsampled (stratified): seconds, not minutes


@dataclass
class Baseline:
    """What the baseline is and how it scored."""

    name: str  # "logistic regression on TF-IDF word 1-2 grams"
    c: float
    val_accuracy: float
    val_macro_f1: float
    test_accuracy: float | None
    seconds: float
    trained_on: int  # training examples it learned from (before the refit with validation)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (the bundle's ``metrics.baseline``)."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


Featurizer = Callable[[list[Data]], list[Any]]  # parts -> their feature matrices, fitted on the first


def _pixels(parts: list[Data]) -> list[Any]:
    from sklearn.preprocessing import StandardScaler

    raw = [thumbnails(p, PIXEL_SIDE) for p in parts]  # type: ignore[arg-type]
    scaler = StandardScaler().fit(raw[0])
    return [scaler.transform(x) for x in raw]


def _hog(parts: list[Data]) -> list[Any]:
    from sklearn.preprocessing import StandardScaler

    raw = [hog_vectors(p) for p in parts]  # type: ignore[arg-type]
    scaler = StandardScaler().fit(raw[0])
    return [scaler.transform(x) for x in raw]


def _texts(settings: dict[str, object]) -> Featurizer:
    def featurize(parts: list[Data]) -> list[Any]:
        vec = tfidf(parts[0].texts, settings)  # type: ignore[union-attr]
        return [vec.transform(p.texts) for p in parts]  # type: ignore[union-attr]
    return featurize


def featurizers(train: Data) -> dict[str, Featurizer]:
    """The feature sets the baseline chooses from: name -> featurizer."""
    if isinstance(train, ImageData):
        side = min(PIXEL_SIDE, int(train.images[0].shape[-1]))
        out: dict[str, Featurizer] = {f"{side}x{side} pixels": _pixels}
        if has_hog():
            out["HOG"] = _hog
        return out
    settings = text_analyzer(train.texts)  # type: ignore[union-attr]
    return {describe(settings): _texts(settings)}


class _Dense:
    """Multinomial logistic regression on dense features by full-batch L-BFGS (the lbfgs recipe's solver):
    sklearn's objective, sum of losses x C + |W|^2 / 2 (the bias free), as mean loss + |W|^2 / (2 C N);
    each fit warm-starts from the previous one along the C grid."""

    def __init__(self, c: float, start: _Dense | None = None) -> None:
        self.c, self.start = c, start
        self.fit_: tuple[torch.Tensor, torch.Tensor] | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Dense:
        from finetune.recipes.lbfgs import solve

        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
        k = int(yt.max()) + 1
        start = self.start.fit_ if self.start is not None and self.start.fit_ is not None \
            and self.start.fit_[0].shape == (k, xt.shape[1]) else None
        self.fit_ = solve(xt, yt, k, 1.0 / (self.c * len(yt)), start)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.fit_ is not None
        w, b = self.fit_
        return (torch.as_tensor(x, dtype=torch.float32) @ w.T + b).argmax(1).numpy()


def _fit(x: Any, y: np.ndarray, c: float, start: Any = None) -> Any:
    """Logistic regression with inverse L2 strength ``c``: scikit-learn's for sparse TF-IDF, the L-BFGS
    solver (warm-started from ``start``) for dense pixels or HOG."""
    from sklearn.linear_model import LogisticRegression

    if hasattr(x, "toarray"):
        return LogisticRegression(C=c, max_iter=2000).fit(x, y)
    return _Dense(c, start if isinstance(start, _Dense) else None).fit(x, y)


def concat(a: Data, b: Data) -> Data:
    """Two parts of one source as one set (training and validation, for the refit), ids kept."""
    joined = a.subset(range(len(a)))
    if isinstance(a, ImageData) and isinstance(b, ImageData) and isinstance(joined, ImageData):
        if isinstance(a.images, torch.Tensor) and isinstance(b.images, torch.Tensor) \
                and a.images.shape[1:] == b.images.shape[1:]:
            joined.images = torch.cat([a.images, b.images])
        else:
            joined.images = [*a.images, *b.images]
    else:
        joined.texts = [*a.texts, *b.texts]  # type: ignore[union-attr]
    joined.labels = torch.cat([a.labels, b.labels])
    joined.ids = [*a.ids, *b.ids] if a.ids is not None and b.ids is not None else None
    if isinstance(joined, ImageData):
        joined.names = [*a.names, *b.names] if a.names is not None and b.names is not None else None  # type: ignore[union-attr]
    joined.groups = [*a.groups, *b.groups] if a.groups is not None and b.groups is not None else None
    return joined


def fit_baseline(splits: Splits, holdout: bool = True, seed: int = 0) -> Baseline:
    """Choose features and C on validation, refit on training + validation, score the holdout."""
    start = time.perf_counter()
    train = splits.train
    if len(train) > MAX_TRAIN:
        rng = np.random.default_rng(seed)
        train = train.subset(stratified_take(train.labels, rng, fraction=MAX_TRAIN / len(train))[0])
    y_train, y_val = train.labels.numpy(), splits.val.labels.numpy()
    from sklearn.metrics import f1_score

    best: tuple[float, float, str, float] | None = None
    options = featurizers(train)
    for name, featurize in options.items():
        x_train, x_val = featurize([train, splits.val])
        model = None
        for c in C_GRID:  # weakest regularization last, each fit starting from the previous one
            model = _fit(x_train, y_train, c, model)
            pred = model.predict(x_val)
            acc = float((pred == y_val).mean())
            if best is None or acc > best[0]:
                best = (acc, float(f1_score(y_val, pred, average="macro")), name, c)
    assert best is not None
    val_accuracy, val_f1, name, c = best
    test_accuracy = None
    if holdout:
        both = concat(train, splits.val)
        x_both, x_test = options[name]([both, splits.test])
        model = _fit(x_both, both.labels.numpy(), c)
        test_accuracy = float((model.predict(x_test) == splits.test.labels.numpy()).mean())
    return Baseline(f"logistic regression on {name}", c, val_accuracy, val_f1, test_accuracy,
                    time.perf_counter() - start, len(train))


def verdict(model_accuracy: float, baseline: dict[str, Any], split: str = "holdout") -> str:
    """One line: the model's accuracy beside the baseline's, and what to make of it."""
    key = "test_accuracy" if split == "holdout" else "val_accuracy"
    base = baseline.get(key)
    if base is None:
        return ""
    gap = model_accuracy - float(base)
    line = (f"the model's {split} accuracy is {model_accuracy:.3f} against {base:.3f} for a classical "
            f"baseline ({baseline['name']})")
    if gap <= 0.005:
        return (line + ": the baseline is as good or better; the deep model is not worth its cost here "
                "unless it brings something else")
    return line + f": the model is {gap * 100:.1f} points better"
