"""The end of a training: evaluate on validation (and the holdout), then write the bundle."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.batches import num_examples
from finetune.inference import predict_logits
from finetune.metrics import classification_metrics
from finetune.numerics import apply
from finetune.precision import pick
from finetune.quality.baseline import fit_baseline, verdict
from finetune.recipes.base import FitOutcome
from finetune.run.prepare import Prepared, adapter_options, run_inputs
from finetune.run_config import RunConfig
from finetune.trainer import History
from plugins.bundle import save_bundle
from plugins.events import Reporter
from plugins.numerics import FP32
from plugins.records import Result, plain
from robustness.uncertainty.record import evaluate_trust, fit_trust, summary


@dataclass
class TrainResult(Result):
    """What a run produced: the bundle, its metrics, the epochs, timings and sizes."""

    bundle: Path
    metrics: dict[str, Any]
    history: History
    seconds: dict[str, float]
    trainable_params: int
    split_sizes: dict[str, int]
    config: RunConfig  # with the adapter and recipe resolved
    extra: dict[str, Any]
    baseline: dict[str, Any] = field(default_factory=dict)  # the classical baseline on the same split


def baseline_of(prep: Prepared, metrics: dict[str, Any], events: Reporter) -> dict[str, Any]:
    """The classical baseline on the same split, said beside the model's accuracy."""
    events.progress("the classical baseline", 0)
    held = "test" in metrics
    base = fit_baseline(prep.splits, holdout=held, seed=prep.cfg.split.seed).to_json()
    split = "holdout" if held else "validation"
    ours = metrics["test" if held else "val"]["accuracy"]
    events.log(f"baseline: {verdict(ours, base, split)} [{base['seconds']:.1f} s]")
    return base


def save(prep: Prepared, outcome: FitOutcome, holdout: bool, events: Reporter, resume: bool) -> TrainResult:
    """Evaluate on validation (and the holdout) and write the bundle."""
    cfg, model, splits, history = prep.cfg, prep.model, prep.splits, outcome.history
    start = time.perf_counter()
    events.progress("evaluating", 0)

    n_inputs = num_examples(prep.inputs["val"]) + (num_examples(prep.inputs["test"]) if holdout else 0)
    computing, choice = pick(model, prep.inputs["val"], prep.device, "infer", cfg.train.precision, events,
                             log=True, examples=n_inputs)
    prep.numerics["evaluation"] = choice.to_json()

    def measure(split: str) -> dict[str, Any]:
        """The split's metrics, with the few trust numbers a model list shows (ECE, set coverage)."""
        labels = getattr(splits, split).labels
        logits = predict_logits(computing, prep.inputs[split], cfg.train.eval_batch_size, prep.device)
        out = classification_metrics(labels, logits.argmax(1), splits.train.classes)
        out["trust"] = summary(evaluate_trust(logits, labels, trust, splits.train.classes))
        return out

    if outcome.val_logits is not None:  # the final weights learned from validation too: before that
        val_logits = outcome.val_logits
    else:
        val_logits = predict_logits(computing, prep.inputs["val"], cfg.train.eval_batch_size, prep.device)
    val = classification_metrics(splits.val.labels, val_logits.argmax(1), splits.train.classes)
    trust, _ = fit_trust(val_logits, splits.val.labels)  # energy: no tensors to keep
    metrics = {"val": val, **({"test": measure("test")} if holdout else {})}
    baseline = baseline_of(prep, metrics, events)
    apply(model, FP32)  # the bundle holds fp32 weights in the usual memory format
    prep.clock["evaluate"] = time.perf_counter() - start
    meta = {
        "model": prep.spec.to_json(),
        "arch": model.backbone.arch(),
        "identity": model.backbone.identity(),
        "adapter": {"name": cfg.adapter, "config": plain(adapter_options(cfg)) or {}},
        "recipe": cfg.recipe,
        "labels": splits.train.classes,
        "preprocessing": prep.preprocessing,
        "split": cfg.to_json()["split"],
        "data": {"source": prep.source, "splits": splits.sizes(), "notes": splits.notes},
        "training": {**cfg.to_json()["train"], "patience": cfg.train.stop_patience(),
                     "defaults": {"source": cfg.defaults, "model": cfg.model_defaults},
                     "best_epoch": history.best_epoch,
                     "stopped_early": history.stopped_early, "history": history.epochs,
                     "seconds": prep.clock, "trainable_params": prep.plan.trainable_count(),
                     "total_params": sum(p.numel() for p in model.parameters()), **outcome.extra},
        "metrics": metrics,
        "numerics": prep.numerics,
        "trust": trust,
        "baseline": baseline,
    }
    model.to("cpu")
    events.progress("writing the bundle", 0)
    out = save_bundle(Path(cfg.out), model, meta, getattr(model.backbone, "tokenizer", None),
                      overwrite=cfg.overwrite or resume, inputs=run_inputs(cfg))
    return TrainResult(out, metrics, history, prep.clock, prep.plan.trainable_count(), splits.sizes(), cfg,
                       outcome.extra, baseline)
