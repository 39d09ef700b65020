"""The fit itself: the numerics for training, cached features for a frozen backbone, then the
model's recipe over the epochs (checkpoints in the work folder)."""

from __future__ import annotations

import time
from pathlib import Path

from finetune.batches import num_examples
from finetune.distributed import world
from finetune.inference import compute_features
from finetune.numerics import apply
from finetune.precision import pick
from finetune.recipes.base import FitContext, FitOutcome
from finetune.run.prepare import Prepared, defaults_note
from plugins.events import Reporter
from plugins.numerics import FP32
from plugins.registry import registry


def fit(prep: Prepared, work: Path, events: Reporter) -> FitOutcome:
    """Cache features if the adapter freezes the backbone, then run the recipe (checkpoints in
    ``work/ckpt``)."""
    cfg, model, plan, device = prep.cfg, prep.model, prep.plan, prep.device
    model.to(device)
    inputs = prep.inputs
    train_in, val_in, unl_in = inputs["train"], inputs["val"], inputs.get("unlabeled")
    purpose = "infer" if plan.cache_features else "train"  # a frozen backbone only runs forward
    start = time.perf_counter()
    n_inputs = sum(num_examples(x) for x in (train_in, val_in, unl_in) if x is not None)
    # ranks must compute alike: under --nproc, auto means fp32 (a timing could differ per rank)
    precision = "fp32" if world() is not None and cfg.train.precision == "auto" else cfg.train.precision
    computing, choice = pick(model, train_in, device, purpose, precision, events, check=val_in,
                             log=True, examples=n_inputs * cfg.train.epochs)  # the work it may save on
    prep.numerics["training"] = {**choice.to_json(), "seconds": round(time.perf_counter() - start, 2)}
    if plan.cache_features:
        start = time.perf_counter()
        batch = cfg.train.eval_batch_size
        stage = "caching features ({})".format
        train_in = compute_features(computing, train_in, batch, device, events, stage("train"))
        val_in = compute_features(computing, val_in, batch, device, events, stage("validation"))
        if unl_in is not None:
            unl_in = compute_features(computing, unl_in, batch, device, events, stage("unlabeled"))
        prep.clock["feature_cache"] = time.perf_counter() - start
        apply(model, FP32)  # the head trains on features; an int8 copy is dropped
    events.log(f"{cfg.backbone} + {cfg.adapter} ({cfg.recipe}) on {prep.source}: split "
               f"{prep.splits.sizes()}, {plan.trainable_count():,} trainable parameters, device {device}")
    events.log(f"  {defaults_note(cfg)}")
    for note in prep.splits.notes:
        events.log(f"  {note}")
    splits = prep.splits
    ctx = FitContext(model, plan, cfg.train, device, prep.spec.num_classes, train_in, splits.train.labels,
                     val_in, splits.val.labels, unl_in, work / "ckpt", events)
    start = time.perf_counter()
    outcome: FitOutcome = registry.get("recipe", cfg.recipe).fit(ctx)
    if plan.finalize is not None:
        plan.finalize()
    prep.clock["train"] = time.perf_counter() - start
    return outcome
