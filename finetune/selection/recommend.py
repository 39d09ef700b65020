"""``recommend``: profile the data, score the model families for it, time each on this machine.

The score is a rule of thumb from the data (modality, examples per class, image size or text
length) and the user's need for interpretability; the time is measured: a few real training
steps of each candidate on a real batch, extrapolated to the run.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from finetune.data.splits import Splits
from finetune.run_config import RunConfig, from_options
from plugins.errors import InvalidInput


@dataclass(frozen=True)
class Profile:
    """What the data looks like."""

    modality: str
    classes: int
    train: int
    min_per_class: int
    image_size: int | None  # median of the longer side
    text_words: float | None  # median words per text
    text_chars: float | None = None  # median characters per text (scripts without spaces have 1 "word")
    unknown: float | None = None  # share of the texts' pieces MiniLM's tokenizer reads as [UNK]


@dataclass
class Suggestion:
    """A ranked model + adapter with its reason and the measured estimate."""

    model: str
    adapter: str
    score: float
    reason: str
    options: dict[str, Any]
    seconds: float | None = None
    fits_budget: bool = True

    @property
    def label(self) -> str:
        """``model:adapter`` (``baseline`` for the classical baseline)."""
        return "baseline" if self.model == "baseline" else f"{self.model}:{self.adapter}"


def load_splits(cfg: RunConfig) -> Splits:
    """The splits a run of ``cfg`` would use (read once, shared by the profile and every probe)."""
    from finetune.data.spec import load_data
    from finetune.data.splits import make_splits
    from finetune.quality.edits import apply_edits

    return apply_edits(make_splits(load_data(cfg.data, cfg.data_options), cfg.split), cfg.data_options)


def profile(splits: Splits) -> Profile:
    """Modality, class counts and sizes of the training split."""
    from finetune.data.types import ImageData, class_counts

    train = splits.train
    counts = class_counts(train)
    size = words = None
    if isinstance(train, ImageData):
        size = int(statistics.median(max(int(img.shape[-1]), int(img.shape[-2])) for img in train.images))
        return Profile(train.modality, len(counts), len(train), min(counts.values()), size, words)
    words = float(statistics.median(len(t.split()) for t in train.texts))
    chars = float(statistics.median(len(t) for t in train.texts))
    return Profile(train.modality, len(counts), len(train), min(counts.values()), size, words, chars,
                   _unknown(list(train.texts)))


def _unknown(texts: list[str]) -> float | None:
    """The share of MiniLM's word pieces that are [UNK] over (up to 500 of) the texts; None without it."""
    from finetune.data.unknown_tokens import unknown_shares
    from plugins.backbones.config import BackboneConfig
    from plugins.backbones.scratch import _tokenizer
    from plugins.errors import RobustuneError

    try:
        tokenizer = _tokenizer(BackboneConfig())
    except RobustuneError:
        return None
    return unknown_shares(tokenizer, texts[:500], 128)[1]


def candidates(p: Profile, interpretable: bool) -> list[Suggestion]:
    """Scored suggestions for this profile (higher is better), each with its reason."""
    few = p.min_per_class < 100
    out: list[Suggestion] = []
    if p.modality == "image":
        small = (p.image_size or 0) <= 32
        out.append(Suggestion("efficientnet_lite0", "linear-probe", 3.0 if few else 2.0,
                              "pretrained features need few labels; features are cached, so training "
                              "is cheap",
                              {"image_size": 128}))
        out.append(Suggestion("efficientnet_lite0", "partial", 2.5 if few else 3.0,
                              "fine-tunes the last stages: best accuracy once there are ~100+ labels "
                              "per class",
                              {"image_size": 128}))
        out.append(Suggestion("cnn", "scratch", (3.2 if small else 1.5) - (1.0 if few else 0.0),
                              "a small CNN from scratch suits small images with many labels; Grad-CAM "
                              "reads its own convolutional stages" if small else
                              "from scratch needs many labels at this image size",
                              {"image_size": min(p.image_size or 32, 64)}))
        if small:
            out.append(Suggestion("lstm", "scratch", 2.0 - (1.0 if few else 0.0),
                                  "reads images as rows; works on small digit-like images", {}))
            out.append(Suggestion("dbn", "scratch", 1.6 - (1.0 if few else 0.0),
                                  "stacked RBMs then backprop; small, fully connected, fast on a CPU", {}))
        if interpretable:
            for s in out:
                if s.model == "cnn" or s.adapter == "linear-probe":
                    s.score += 0.8
                    s.reason += "; interpretable: few trainable layers whose attributions are checked"
    else:
        long_texts = (p.text_words or 0) > 64
        out.append(Suggestion("bert", "linear-probe", 2.8 if few else 2.0,
                              "MiniLM sentence features + a linear head: good with few labels, cheap",
                              {"max_length": 128 if long_texts else 64}))
        out.append(Suggestion("bert", "lora", 2.5 if few else 3.0,
                              "MiniLM with low-rank updates: near full fine-tuning accuracy, ~1% of the "
                              "parameters train", {"max_length": 128 if long_texts else 64}))
        out.append(Suggestion("bert", "full", 2.2 if few else 3.1,
                              "full fine-tuning: the most accurate with enough labels, the slowest",
                              {"max_length": 128 if long_texts else 64}))
        out.append(Suggestion("cnn", "scratch", 0.8 if few else 2.2,
                              "Kim's CNN from scratch: fast; needs thousands of labeled texts",
                              {"max_length": 64}))
        out.append(Suggestion("lstm", "scratch", 0.6 if few else 1.9,
                              "LSTM from scratch: needs thousands of labeled texts", {"max_length": 64}))
        if interpretable:
            for s in out:
                if s.model == "bert":
                    s.score += 0.5
                    s.reason += "; interpretable: attention rollout and integrated gradients both apply"
    return out


def probe_seconds(cfg: RunConfig, splits: Splits, steps: int = 10, warmup: int = 2,
                  max_probe_s: float = 5.0) -> float:
    """Seconds a whole training run of ``cfg`` would take here: the median of timed steps on a real
    batch, times the steps of a run (plus feature caching for cached-feature adapters)."""
    from finetune.batches import iterate, model_args, num_examples
    from finetune.inference import compute_features
    from finetune.run.prepare import adapter_options, prepare_inputs_of, resolve_names
    from plugins.model import ModelSpec, build_classifier
    from plugins.registry import registry

    cfg = resolve_names(cfg, splits)
    spec = ModelSpec(cfg.backbone, len(splits.train.classes), cfg.backbone_config, cfg.head,
                     {"dropout": cfg.dropout})
    model = build_classifier(spec)
    _, inputs = prepare_inputs_of(model, splits)
    plan = registry.get("adapter", cfg.adapter).plan(model, cfg.train.lr, adapter_options(cfg))
    n = num_examples(inputs["train"])
    batch = next(iterate(inputs["train"], cfg.train.batch_size))
    y = splits.train.labels[: cfg.train.batch_size]
    extra = 0.0
    if plan.cache_features:
        start = time.perf_counter()
        batch = compute_features(model, batch, cfg.train.batch_size)
        extra = (time.perf_counter() - start) * (n + len(splits.val)) / len(y)
    if cfg.recipe == "lbfgs":
        return extra + lbfgs_seconds(batch["features"], n, len(splits.train.classes))
    optimizer = torch.optim.AdamW(plan.param_groups)
    plan.module.train()
    times: list[float] = []
    args = model_args(batch, torch.device("cpu"))
    began = time.perf_counter()
    for i in range(warmup + steps):  # the first steps warm up; stop early once enough time is spent
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(plan.module(*args), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
            if time.perf_counter() - began > max_probe_s:
                break
    per_epoch = statistics.median(times) * math.ceil(n / cfg.train.batch_size) * 1.15  # + validation
    return extra + per_epoch * cfg.train.epochs


def lbfgs_seconds(features: torch.Tensor, n: int, classes: int, evals: int = 3) -> float:
    """The L-BFGS probe's solve: one loss-and-gradient pass over ``n`` cached features, timed, times
    the grid's fits at half their iteration cap (warm starts stop most fits early)."""
    from finetune.recipes.lbfgs import GRID, MAX_ITER

    x = features.flatten(1).repeat(math.ceil(n / len(features)), 1)[:n]
    y = torch.randint(classes, (n,))
    w = torch.zeros(x.shape[1], classes, requires_grad=True)
    times = []
    for _ in range(evals):
        start = time.perf_counter()
        torch.nn.functional.cross_entropy(x @ w, y).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * (len(GRID) + 3) * MAX_ITER / 2


def recommend(options: dict[str, Any], budget_s: float | None, interpretable: bool = False,
              probe: bool = True) -> tuple[Profile, list[Suggestion]]:
    """Ranked suggestions: those that fit the budget first, then by score."""
    base = from_options({**options, "backbone": "cnn", "out": "unused"})
    splits = load_splits(base)
    prof = profile(splits)
    if prof.train < 2 * prof.classes:
        raise InvalidInput(f"only {prof.train} training examples for {prof.classes} classes; "
                           "label more data")
    suggestions = candidates(prof, interpretable)
    for s in suggestions:
        if probe:
            cfg = from_options({**options, **s.options, "backbone": s.model, "adapter": s.adapter,
                                "out": "unused"})
            s.seconds = probe_seconds(cfg, splits)
            s.fits_budget = budget_s is None or s.seconds <= budget_s
    suggestions.append(baseline_suggestion(splits, budget_s))
    suggestions.sort(key=lambda s: (not s.fits_budget, -s.score))
    return prof, suggestions


BASELINE_GOOD = 0.95  # validation accuracy at which the classical baseline is suggested first


def baseline_suggestion(splits: Splits, budget_s: float | None) -> Suggestion:
    """The classical baseline, fitted here (seconds): first when it already reaches 95% on validation,
    else last, as the accuracy every model must beat."""
    from finetune.quality.baseline import fit_baseline

    base = fit_baseline(splits, holdout=False)
    good = base.val_accuracy >= BASELINE_GOOD
    reason = (f"{base.name}: {base.val_accuracy:.3f} on validation in {base.seconds:.1f} s"
              + ("; already good: a deep model must earn its cost" if good else
                 "; the accuracy a deep model must beat (train records it beside every model)"))
    return Suggestion("baseline", base.name, 3.5 if good else 0.5, reason, {}, base.seconds,
                      budget_s is None or base.seconds <= budget_s)
