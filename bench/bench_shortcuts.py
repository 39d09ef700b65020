"""Planted shortcuts ("Clever Hans"), found or not by the report's "What the model relies on" section, with
robustune's defaults, against a by-hand baseline on the same examples.

Cases (each planted in 90% of one class's training and holdout examples and 10% of the other's):
- stamp: a 4x4 white square in the top-left corner, Fashion-MNIST Coat (planted) vs Pullover;
- border: a 2-pixel white frame, Fashion-MNIST Shirt (planted) vs T-shirt/top;
- watermark: the word "zxqv" at the end of Rotten Tomatoes fresh reviews (planted) vs rotten.
Images: EfficientNet-Lite0 full fine-tune and the from-scratch cnn, 300 training images per class; texts:
the MiniLM linear probe, 300 per class. Each model is measured on its holdout as planted and with the
shortcut moved (on every example of the other class, none of the planted one): the drop says how much it
relies on it. robustune's finding comes from ``explain.shortcuts`` / ``explain.text_shortcuts`` exactly as
the report calls them. The baseline is what a user does by hand with Captum: Integrated Gradients mean
absolute map over the same planted-class examples, and the hottest pixel (images) or the highest mean word
(texts) read off it: "found" if it lies on the planted region or is the planted word.

Run: .venv/bin/python bench/bench_shortcuts.py [case-model ...]. Target: robustune finds every shortcut
the model relies on (accuracy drop >= 10 points when moved).
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

import common  # noqa: F401
import numpy as np
import torch
from common import WORK, write_results
from PIL import Image

from explain.config import ExplainConfig
from explain.sections.config import ReportConfig
from explain.shortcuts import ShortcutConfig, find_shortcuts, normalized_maps
from explain.text import explain_texts
from explain.text_shortcuts import TextShortcutConfig, find_word_shortcuts
from finetune.data.spec import load_data
from finetune.evaluation import bundle_data, bundle_labels
from finetune.inference import predict_logits
from finetune.preprocess import prepare_inputs, tokenize
from plugins.bundle import load_bundle
from plugins.registry import registry

PER_CLASS, HOLDOUT, MARK, SEED = 300, 200, "zxqv", 0
IMAGE_CASES = {"stamp": ("Coat", "Pullover"), "border": ("Shirt", "T-shirt/top")}  # (planted, other)


def folder_name(cls: str) -> str:
    """A Fashion-MNIST class name as a folder name ("T-shirt/top" -> "t-shirt-top")."""
    return cls.lower().replace("/", "-")
MODELS = {"cnn": {"backbone": "cnn"}, "efficientnet": {"backbone": "efficientnet_lite0", "adapter": "full"}}
RUNS = ["stamp-cnn", "stamp-efficientnet", "border-cnn", "border-efficientnet", "watermark-minilm"]


def plant(img: np.ndarray, case: str) -> np.ndarray:
    """The shortcut drawn on a 28x28 grey image (a copy)."""
    out = img.copy()
    if case == "stamp":
        out[1:5, 1:5] = 255
    else:
        out[:2], out[-2:], out[:, :2], out[:, -2:] = 255, 255, 255, 255
    return out


def image_folder(root: Path, case: str, split: str, moved: bool = False) -> Path:
    """An image folder of the case's two classes; planted as in training, or ``moved`` (on every image
    of the other class, none of the planted one)."""
    if (root / ".done").is_file():
        return root
    planted, other = IMAGE_CASES[case]
    source = load_data("fashion-mnist")
    data = source.pool if split == "train" else source.test
    rng = np.random.default_rng(SEED + (split == "test"))
    n = PER_CLASS if split == "train" else HOLDOUT
    for name in (planted, other):
        (root / folder_name(name)).mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(np.asarray(data.labels) == data.classes.index(name))[:n]
        for i in idx:
            img = data.images[int(i)][0].numpy()
            stamp = (name == other) if moved else rng.random() < (0.9 if name == planted else 0.1)
            Image.fromarray(plant(img, case) if stamp else img).save(root / folder_name(name) / f"{i}.png")
    (root / ".done").touch()
    return root


def text_csv(path: Path, split: str, moved: bool = False) -> Path:
    """Rotten Tomatoes fresh vs rotten with the watermark word, planted or ``moved``."""
    if path.is_file():
        return path
    source = load_data("rotten-tomatoes").pool
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(source))
    rows: list[tuple[str, str]] = []
    wanted = {c: 0 for c in source.classes}
    skip = PER_CLASS if split == "test" else 0  # the holdout comes after the training texts
    seen = {c: 0 for c in source.classes}
    n = PER_CLASS if split == "train" else HOLDOUT
    planted = source.classes[-1]
    for i in order.tolist():
        cls = source.classes[int(source.labels[i])]
        seen[cls] += 1
        if seen[cls] <= skip or wanted[cls] >= n:
            continue
        wanted[cls] += 1
        text = source.texts[i]
        mark = (cls != planted) if moved else rng.random() < (0.9 if cls == planted else 0.1)
        rows.append((f"{text} {MARK}" if mark else text, cls))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def train(name: str, data: str, options: dict[str, Any]) -> Path:
    """The bundle, trained with robustune's defaults (and the model named) if missing."""
    out = WORK / f"shortcut-{name}"
    if not (out / "robustune.json").is_file():
        from finetune.driver import run_training
        from finetune.run_config import from_options

        run_training(from_options({"data": data, **options, "out": str(out)}))
    return out


def accuracy(bundle_path: Path, data: str) -> float:
    bundle = load_bundle(bundle_path)
    _, ds = bundle_data(bundle, data, "all")
    logits = predict_logits(bundle.model, prepare_inputs(ds, bundle.meta.preprocessing, bundle.tokenizer))
    return float((logits.argmax(1) == bundle_labels(ds, bundle)).double().mean())


def image_run(case: str, model: str) -> dict[str, Any]:
    root = WORK / f"shortcut-data-{case}"
    train_dir = image_folder(root / "train", case, "train")
    held = image_folder(root / "test", case, "test")
    moved = image_folder(root / "moved", case, "test", moved=True)
    path = train(f"{case}-{model}", f"imagefolder:{train_dir}", MODELS[model])
    planted_acc, moved_acc = accuracy(path, f"imagefolder:{held}"), accuracy(path, f"imagefolder:{moved}")
    bundle = load_bundle(path)
    _, ds = bundle_data(bundle, f"imagefolder:{held}", "all")
    inputs = prepare_inputs(ds, bundle.meta.preprocessing, None)
    pixels = inputs["pixels"].float() / 255
    pred = predict_logits(bundle.model, inputs).argmax(1)
    cfg = ReportConfig()
    method = registry.get("explainer", cfg.shortcut_method)(ExplainConfig(n_steps=cfg.n_steps, batch_size=8))
    start = time.perf_counter()
    evidence = find_shortcuts(bundle.model, pixels, pred, method, ShortcutConfig(per_class=cfg.shortcut_n))
    seconds = time.perf_counter() - start
    planted_cls = bundle.labels.index(folder_name(IMAGE_CASES[case][0]))
    h, w = pixels.shape[-2:]
    truth = _planted_mask(case, h, w)
    mine = next((e for e in evidence if e.cls == planted_cls), None)
    found = bool(mine and mine.finding and float((mine.region.mask(h, w) & truth).sum()) > 0)
    # the baseline by hand: Captum IG, mean absolute map of the same examples, its hottest pixel
    from captum.attr import IntegratedGradients

    idx = torch.nonzero(pred == planted_cls).flatten()[: cfg.shortcut_n]
    attr = IntegratedGradients(bundle.model).attribute(pixels[idx], target=pred[idx], n_steps=cfg.n_steps,
                                                       internal_batch_size=64)
    hottest = int(normalized_maps(attr).mean(0).argmax())
    baseline = bool(truth.flatten()[hottest])
    return {"case": case, "model": model, "holdout (planted)": planted_acc, "holdout (moved)": moved_acc,
            "drop": planted_acc - moved_acc, "robustune found": found,
            "region": mine.region.where(h, w) if mine else "-",
            "flips (painted / pasted)":
                f"{mine.removed_flips:.0%} / {mine.pasted_flips:.0%}" if mine else "-",
            "baseline (IG hottest pixel) on it": baseline, "seconds": round(seconds, 1)}


def _planted_mask(case: str, h: int, w: int) -> torch.Tensor:
    """The planted region at the model's input size (drawn on 28x28, resized by the preprocessing)."""
    canvas = np.zeros((28, 28), dtype=np.uint8)
    mask = plant(canvas, case) > 0
    grown = torch.nn.functional.interpolate(torch.tensor(mask, dtype=torch.float32)[None, None], size=(h, w))
    return grown[0, 0] > 0


def text_run() -> dict[str, Any]:
    root = WORK / "shortcut-data-watermark"
    train_csv, held, moved = text_csv(root / "train.csv", "train"), text_csv(root / "test.csv", "test"), \
        text_csv(root / "moved.csv", "test", moved=True)
    path = train("watermark-minilm", f"csv:{train_csv}", {"backbone": "bert", "adapter": "linear-probe"})
    planted_acc, moved_acc = accuracy(path, f"csv:{held}"), accuracy(path, f"csv:{moved}")
    bundle = load_bundle(path)
    _, ds = bundle_data(bundle, f"csv:{held}", "all")
    texts = list(ds.texts)  # type: ignore[attr-defined]
    max_length = bundle.meta.max_length
    pred = predict_logits(bundle.model, tokenize(texts, bundle.tokenizer, max_length)).argmax(1)
    cfg = ReportConfig()
    method = registry.get("explainer", cfg.shortcut_method)(ExplainConfig(n_steps=cfg.n_steps, batch_size=8))
    start = time.perf_counter()
    def predict(batch: list[str]) -> torch.Tensor:
        return predict_logits(bundle.model, tokenize(batch, bundle.tokenizer, max_length)).argmax(1)

    def explain(batch: list[str], target: torch.Tensor) -> list[Any]:
        return explain_texts(method, bundle.model, bundle.tokenizer, batch, target, max_length)

    words = find_word_shortcuts(predict, texts, pred, explain, TextShortcutConfig(per_class=cfg.shortcut_n))
    seconds = time.perf_counter() - start
    planted_cls = bundle.labels.index(load_data("rotten-tomatoes").pool.classes[-1])
    mine = next((e for e in words if e.cls == planted_cls and e.word == MARK and e.finding), None)
    # the baseline by hand: the same IG word scores, the word with the highest mean score
    idx = torch.nonzero(pred == planted_cls).flatten()[: cfg.shortcut_n].tolist()
    scored = explain([texts[i] for i in idx], pred[idx])
    totals: dict[str, list[float]] = {}
    for s in scored:
        for word, value in zip(s.words, s.scores, strict=True):
            totals.setdefault(word.lower(), []).append(value)
    top = max(totals, key=lambda k: sum(totals[k]) / len(totals[k])) if totals else ""
    return {"case": "watermark", "model": "minilm", "holdout (planted)": planted_acc,
            "holdout (moved)": moved_acc, "drop": planted_acc - moved_acc,
            "robustune found": mine is not None, "region": f'the word "{mine.word}"' if mine else "-",
            "flips (painted / pasted)":
                f"{mine.removed_flips:.0%} / {mine.inserted_flips:.0%}" if mine else "-",
            "baseline (IG hottest pixel) on it": top == MARK, "seconds": round(seconds, 1)}


def main() -> None:
    chosen = sys.argv[1:] or RUNS
    rows, checks = [], {}
    for run in chosen:
        case, model = run.split("-", 1)
        row = text_run() if case == "watermark" else image_run(case, model)
        rows.append(row)
        print(row, flush=True)
        if row["drop"] >= 0.10:
            checks[f"{run}: relied on (drop {row['drop']:.0%}) and found"] = bool(row["robustune found"])
        else:
            checks[f"{run}: not relied on (drop {row['drop']:.0%}): no finding needed"] = True
    notes = [f"{PER_CLASS} training and {HOLDOUT} holdout examples per class; the shortcut in 90% of the "
             "planted class and 10% of the other; 'moved': on every example of the other class, none of the "
             "planted",
             "robustune: explain.shortcuts / explain.text_shortcuts with the report's defaults (Integrated "
             "Gradients, 16 examples per predicted class, 32 steps); found = a finding on the planted region "
             "or word",
             "baseline: Captum IntegratedGradients by hand on the same examples, mean absolute map, its "
             "hottest pixel on the planted region (texts: the word with the highest mean score)"]
    write_results("shortcuts", "python bench/bench_shortcuts.py", rows, checks, notes)


if __name__ == "__main__":
    main()
