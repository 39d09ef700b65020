"""Out-of-sample predicted probabilities by K-fold cross-fitting: every labeled example (training and
validation) is predicted by a model that never saw it.

A linear probe (or ``fast``: the probe on any pretrained backbone's features) computes the backbone's
features once and solves a logistic-regression head per fold, its L2 strength chosen once on an inner
split of the first fold. Other models train K times with their own recipe and defaults, each on the
other folds (20% of them kept for the recipe's validation)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from finetune.data.splits import Splits, stratified_take
from finetune.data.types import Data, class_counts
from finetune.quality.baseline import concat
from finetune.run_config import RunConfig
from plugins.errors import InvalidInput, Unsupported, opt
from plugins.events import Event, Events, Progress, Reporter


@dataclass
class CrossFit:
    """Out-of-sample probabilities of the labeled examples, and how they were made."""

    data: Data  # training then validation examples (ids, labels)
    splits: list[str]  # each example's split: train or val
    probs: Tensor  # (N, K)
    method: str
    folds: int
    seconds: float


def labeled(splits: Splits) -> tuple[Data, list[str]]:
    """Training and validation examples as one set, with each one's split."""
    return concat(splits.train, splits.val), ["train"] * len(splits.train) + ["val"] * len(splits.val)


def fold_indices(labels: Tensor, folds: int, seed: int) -> list[np.ndarray]:
    """Stratified folds: each a sorted index array."""
    from sklearn.model_selection import StratifiedKFold

    y = labels.numpy()
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [np.sort(test) for _, test in kfold.split(np.zeros(len(y)), y)]


def _check_folds(data: Data, folds: int) -> None:
    counts = {c: n for c, n in class_counts(data).items() if 0 < n < folds}
    if counts:
        name, n = min(counts.items(), key=lambda kv: kv[1])
        raise InvalidInput(f"class {name!r} has only {n} labeled examples; cross-fitting with {opt('folds')} "
                           f"{folds} needs at least {folds} per class: lower {opt('folds')} or label more",
                           field="folds")


def _probe_l2(x: Tensor, y: Tensor, k: int, seed: int) -> float:
    """The L2 strength of the probe's grid with the best accuracy on a stratified fifth of ``x``."""
    from finetune.recipes.lbfgs import GRID, _score, solve

    val, train = stratified_take(y, np.random.default_rng(seed), fraction=0.2)
    best, start = (-1.0, GRID[0]), None
    for l2 in GRID:
        start = solve(x[train], y[train], k, l2, start)
        acc = _score(x[val], y[val], *start)[0]
        if acc > best[0]:
            best = (acc, l2)
    return best[1]


def probe_probs(features: Tensor, labels: Tensor, folds: list[np.ndarray], k: int, seed: int,
                events: Reporter) -> Tensor:
    """Out-of-sample probabilities of a logistic-regression head on fixed features.

    Shape: features (N, F), labels (N,) -> (N, K).
    """
    from finetune.recipes.lbfgs import solve

    x = features.float().flatten(1)
    x = (x - x.mean(0)) / (x - x.mean(0)).pow(2).sum(1).mean().sqrt().clamp_min(1e-6)
    probs = torch.zeros(len(x), k)
    l2 = None
    for f, held in enumerate(folds):
        events.progress("cross-fitting", f, len(folds))
        mask = torch.ones(len(x), dtype=torch.bool)
        mask[torch.as_tensor(held)] = False
        if l2 is None:
            l2 = _probe_l2(x[mask], labels[mask], k, seed)
        w, b = solve(x[mask], labels[mask], k, l2)
        probs[torch.as_tensor(held)] = F.softmax(F.linear(x[torch.as_tensor(held)], w, b), 1)
    events.progress("cross-fitting", len(folds), len(folds))
    return probs


class Quiet:
    """A fold's training events: progress and cancellation pass; its epoch metrics and log lines stay here
    (they are not the job's epochs)."""

    def __init__(self, inner: Events) -> None:
        self.inner = inner

    def emit(self, event: Event) -> None:
        """Pass progress on."""
        if isinstance(event, Progress):
            self.inner.emit(event)

    def cancelled(self) -> bool:
        """Whatever ``inner`` says."""
        return self.inner.cancelled()


def _subset(inputs: dict[str, Tensor], idx: np.ndarray) -> dict[str, Tensor]:
    index = torch.as_tensor(idx, dtype=torch.long)
    return {key: value[index] for key, value in inputs.items()}


def trained_probs(cfg: RunConfig, data: Data, folds: list[np.ndarray], events: Reporter) -> Tensor:
    """Out-of-sample probabilities of K trainings of ``cfg``'s model (its recipe and defaults).

    Shape: N examples -> (N, K).
    """
    from finetune.device import resolve_device
    from finetune.inference import predict_logits
    from finetune.run.fit import fit
    from finetune.run.prepare import Prepared, plan_of, prepare_inputs_of
    from plugins.model import ModelSpec, build_classifier

    device = resolve_device(cfg.train.device)
    k = len(data.classes)
    spec = ModelSpec(cfg.backbone, k, cfg.backbone_config, cfg.head, {"dropout": cfg.dropout})
    probs = torch.zeros(len(data), k)
    everything = np.arange(len(data))
    for f, held in enumerate(folds):
        events.check()
        rest = np.setdiff1d(everything, held)
        inner_val, inner_train = stratified_take(data.labels[rest], np.random.default_rng(cfg.split.seed + f),
                                                 fraction=cfg.split.val_fraction)
        fold = Splits(data.subset(rest[inner_train].tolist()), data.subset(rest[inner_val].tolist()),
                      data.subset(held.tolist()), [])
        torch.manual_seed(cfg.train.seed + f)
        model = build_classifier(spec)
        pre, inputs = prepare_inputs_of(model, fold)
        part = Reporter(Quiet(events.part(f, len(folds)).sink))
        plan = plan_of(model, cfg, part)
        prep = Prepared(cfg, "cross-fit", fold, spec, model, pre, inputs, plan, device, {})
        with tempfile.TemporaryDirectory(prefix="robustune-fold") as work:
            fit(prep, Path(work), part)
        logits = predict_logits(model, inputs["test"], cfg.train.eval_batch_size, device)
        probs[torch.as_tensor(held)] = F.softmax(logits.float(), 1)
        accuracy = float((logits.argmax(1) == data.labels[torch.as_tensor(held)]).float().mean())
        events.log(f"fold {f + 1}/{len(folds)}: trained on {len(rest)}, accuracy {accuracy:.3f} on the "
                   f"{len(held)} held out")
    return probs


def cross_fit(cfg: RunConfig, splits: Splits, folds: int = 5, fast: bool = False,
              events: Reporter | None = None) -> CrossFit:
    """Out-of-sample probabilities of every training and validation example (``cfg``: names resolved)."""
    from plugins.events import reporter

    report = reporter(events)
    start = time.perf_counter()
    data, where = labeled(splits)
    _check_folds(data, folds)
    index = fold_indices(data.labels, folds, cfg.split.seed)
    k = len(data.classes)
    probe = cfg.adapter == "linear-probe" and cfg.head == "linear" and cfg.backbone_config.weights != "none"
    if fast or probe:
        features, name = backbone_features(cfg, data, report)
        probs = probe_probs(features, data.labels, index, k, cfg.split.seed, report)
        method = f"a logistic-regression head on {name}'s features, {folds} folds"
    else:
        probs = trained_probs(cfg, data, index, report)
        method = f"{folds} trainings of {cfg.backbone} + {cfg.adapter} ({cfg.recipe}), one per fold"
    return CrossFit(data, where, probs, method, folds, time.perf_counter() - start)


def backbone_features(cfg: RunConfig, data: Data, events: Reporter) -> tuple[Tensor, str]:
    """The pretrained backbone's features of every example, once (pooled over tokens for texts).

    Shape: N examples -> (N, F).
    """
    from finetune.device import resolve_device
    from finetune.inference import compute_features
    from finetune.preprocess import prepare_inputs
    from finetune.run.prepare import is_from_scratch
    from plugins.model import ModelSpec, build_classifier

    if is_from_scratch(cfg.backbone) or cfg.backbone_config.weights == "none":
        why = "is trained from scratch" if is_from_scratch(cfg.backbone) else "has no pretrained weights here"
        raise Unsupported(f"{opt('fast')} fits a head on a pretrained backbone's features; {cfg.backbone} "
                          f"{why}: drop {opt('fast')} (or pick a pretrained {opt('model')})", field="fast")
    spec = ModelSpec(cfg.backbone, len(data.classes), cfg.backbone_config, "linear", {})
    model = build_classifier(spec)
    device = resolve_device(cfg.train.device)
    model.to(device)
    inputs = prepare_inputs(data, model.backbone.preprocessing(), getattr(model.backbone, "tokenizer", None))
    feats = compute_features(model, inputs, cfg.train.eval_batch_size, device, events, "features")["features"]
    if feats.dim() == 3:  # token states: the mean over the text's own tokens
        mask = inputs["attention_mask"][:, : feats.shape[1], None].float()
        feats = (feats * mask).sum(1) / mask.sum(1).clamp_min(1)
    return feats, cfg.backbone

