"""Classification metrics: accuracy, macro-F1, per-class precision / recall, confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from torch import Tensor


def classification_metrics(y_true: Tensor, y_pred: Tensor, classes: list[str]) -> dict[str, Any]:
    """Metrics as JSON-ready numbers; every class appears even when absent from the split."""
    t = y_true.cpu().numpy()
    p = y_pred.cpu().numpy()
    labels = np.arange(len(classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        t, p, labels=labels, zero_division=0
    )
    return {
        "n": int(len(t)),
        "accuracy": float((t == p).mean()) if len(t) else 0.0,
        "macro_f1": float(f1_score(t, p, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(t, p, labels=labels).tolist(),
    }
