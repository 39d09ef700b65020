"""Classification metrics: accuracy, macro-F1, per-class precision / recall, confusion matrix.

Computed from the confusion matrix with numpy, as scikit-learn defines them (``zero_division=0``: a
class never predicted has precision 0; one absent from the split has recall 0); a test checks every
number against scikit-learn. Not importing scikit-learn saves a training or an evaluation about a
second of start-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor


def confusion(t: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """Counts of (true, predicted) pairs. Shape: (N,), (N,) -> (K, K), rows true, columns predicted."""
    return np.bincount(t.astype(np.int64) * k + p.astype(np.int64), minlength=k * k).reshape(k, k)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def classification_metrics(y_true: Tensor, y_pred: Tensor, classes: list[str]) -> dict[str, Any]:
    """Metrics as JSON-ready numbers; every class appears even when absent from the split."""
    t = y_true.cpu().numpy()
    p = y_pred.cpu().numpy()
    cm = confusion(t, p, len(classes))
    hits = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(1), cm.sum(0)
    precision, recall = _ratio(hits, predicted), _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {
        "n": int(len(t)),
        "accuracy": float((t == p).mean()) if len(t) else 0.0,
        "macro_f1": float(f1.mean()) if len(classes) else 0.0,
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
    }
