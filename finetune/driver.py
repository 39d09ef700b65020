"""The run driver: every training run goes setup -> fit (the recipe) -> save (the bundle).

``setup`` checks everything and prepares the data, splits, model and inputs without writing;
``fit`` runs the model's recipe with epoch checkpoints in ``OUT.work``; ``save`` evaluates and
writes the bundle atomically. ``run_training`` holds the output's lock around the three and
keeps a stopped run resumable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import torch

from finetune.adapters.base import TrainPlan
from finetune.augment import parse_augment
from finetune.batches import num_examples
from finetune.checkpoint import find_checkpoint
from finetune.data.spec import data_paths, load_data
from finetune.data.splits import Splits, make_splits
from finetune.data.types import Data, ImageData
from finetune.device import resolve_device
from finetune.distributed import RankFailed, barrier, is_main, share_result, world
from finetune.inference import compute_features, evaluate
from finetune.memory import check_fits, estimate_training
from finetune.metrics import classification_metrics
from finetune.model_defaults import data_modality, default_adapter, describe, model_defaults
from finetune.precision import pick
from finetune.preprocess import Inputs, prepare_inputs
from finetune.recipes.base import FitContext, FitOutcome
from finetune.run_config import RunConfig, dump
from finetune.trainer import History
from plugins.atomic import atomic_dir, check_writable_target, output_lock, remove_output
from plugins.backbones import backbone_modality, build_backbone
from plugins.backbones.base import WEIGHT_SOURCES
from plugins.backbones.scratch import fit_to_data
from plugins.bundle import BUILD_ERRORS, save_bundle
from plugins.classifier import Classifier
from plugins.errors import (
    Conflict,
    Interrupted,
    InvalidInput,
    NotFound,
    RobustuneError,
    TrainingDiverged,
    Unsupported,
    opt,
)
from plugins.events import Cancelled, Events, Reporter, reporter
from plugins.jsonio import read_json
from plugins.model import ModelSpec, build_classifier
from plugins.numerics import FP32, apply
from plugins.options import plugin_options
from plugins.records import Result, plain
from plugins.registry import registry

RUN_FILE = "run.json"


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


def work_dir(out: Path) -> Path:
    """Where a run keeps its config and epoch checkpoints until the bundle is written."""
    return out.with_name(out.name + ".work")


def _check_modality(model_modality: str | None, splits: Splits, cfg: RunConfig) -> None:
    data_modality = splits.train.modality
    if model_modality is not None and model_modality != data_modality:
        example = "bert" if data_modality == "text" else "resnet18"
        raise InvalidInput(
            f"backbone {cfg.backbone} takes {model_modality} but data {cfg.data} is {data_modality}; "
            f"use {'an' if data_modality == 'image' else 'a'} {data_modality} backbone (e.g. {example})"
        )


def _prepare(model: Classifier, splits: Splits) -> tuple[dict[str, Any], dict[str, Inputs]]:
    pre = model.backbone.preprocessing()
    tok = getattr(model.backbone, "tokenizer", None)
    names = ("train", "val", "test") + (("unlabeled",) if splits.unlabeled is not None else ())
    inputs = {name: prepare_inputs(getattr(splits, name), pre, tok) for name in names}
    return pre, inputs


def _native_size(data: Data) -> tuple[int, int] | None:
    if not isinstance(data, ImageData):
        return None
    images = data.images
    first = images[0] if len(images) else None
    return (int(first.shape[-2]), int(first.shape[-1])) if first is not None else None


def is_from_scratch(backbone: str) -> bool:
    """Whether ``backbone`` is a registered from-scratch model (cnn, lstm, ...)."""
    factory = registry.get("backbone", backbone) if registry.has("backbone", backbone) else None
    return bool(getattr(factory, "from_scratch", False))


def resolve_names(cfg: RunConfig, splits: Splits) -> RunConfig:
    """Fill ``auto`` adapter and recipe from the model; fit a from-scratch model's config to the data.

    Raises before any heavy work when the adapter needs pretrained weights the model lacks.
    """
    factory = registry.get("backbone", cfg.backbone) if registry.has("backbone", cfg.backbone) else None
    scratch = bool(getattr(factory, "from_scratch", False))
    adapter = cfg.adapter if cfg.adapter != "auto" else default_adapter(cfg.backbone)
    preferred = getattr(registry.get("adapter", adapter), "preferred_recipe", lambda _: None)(cfg)
    recipe = cfg.recipe if cfg.recipe != "auto" else str(getattr(factory, "recipe", None) or preferred
                                                         or "supervised")
    if scratch and getattr(registry.get("adapter", adapter), "needs_pretrained", True):
        raise Unsupported(
            f"{cfg.backbone} is trained from scratch: adapter {adapter} would keep random layers "
            f"frozen; use {opt('adapter')} scratch (its default) or full"
        )
    registry.entry("recipe", recipe)
    backbone_cfg = cfg.backbone_config
    if scratch:
        backbone_cfg = fit_to_data(backbone_cfg, splits.train.modality, _native_size(splits.train))
    elif backbone_cfg.options:
        raise Unsupported(f"{opt('model_options')} are for from-scratch models; {cfg.backbone} takes none",
                          field='model_options')
    return replace(cfg, adapter=adapter, recipe=recipe, backbone_config=backbone_cfg)


def adapter_options(cfg: RunConfig) -> Any:
    """The adapter's options: its flags (built-ins) with ``adapter_options`` on top, typed and checked."""
    return plugin_options("adapter", cfg.adapter, cfg.adapter_options, cfg.adapter_config)


def _plan(model: Classifier, cfg: RunConfig, events: Reporter) -> TrainPlan:
    adapter = registry.get("adapter", cfg.adapter)
    plan: TrainPlan = adapter.plan(model, cfg.train.lr, adapter_options(cfg))
    if cfg.train.adversarial != "none":
        if model.modality != "image":
            raise Unsupported("adversarial training works on image models (pixels); this is a "
                              f"text model: drop {opt('adversarial')}")
        if plan.cache_features:
            events.log(f"{cfg.adapter} with adversarial training: cached features cannot be attacked, "
                       "so the frozen backbone runs on every adversarial batch (sound, slower)")
            plan = TrainPlan(model, plan.param_groups, plan.frozen, cache_features=False)
    if plan.cache_features and parse_augment(cfg.train.augment):
        raise InvalidInput(
            f"{opt('augment')} cannot be combined with {cfg.adapter}: its features are cached once; "
            f"use {opt('adapter')} full or partial to train with augmentation"
            , field='augment')
    return plan


def defaults_note(cfg: RunConfig) -> str:
    """Which training defaults the run took, for the log."""
    if cfg.defaults == "generic":
        taken = "robustune's generic training defaults (--defaults generic)"
    elif cfg.model_defaults:
        taken = (f"{cfg.backbone}'s training defaults for {cfg.adapter}: {describe(cfg.model_defaults)} "
                 f"(your flags override them; --defaults generic turns them off)")
    elif model_defaults(cfg.backbone, cfg.adapter, data_modality(cfg.data)):
        taken = f"{cfg.backbone}'s training defaults for {cfg.adapter}: none taken, your options set them all"
    else:
        taken = f"{cfg.backbone} recommends no training settings for {cfg.adapter}: robustune's generic ones"
    if cfg.train.patience == 0 and cfg.recipe != "lbfgs":
        taken += f"; early stopping after {cfg.train.stop_patience()} epochs without a better validation " \
                 "accuracy (a quarter of the epochs)"
    return taken


def run_inputs(cfg: RunConfig) -> list[Path | str | None]:
    """The local paths a run reads (data, weights, groups): an output must never replace them."""
    paths: list[Path | str | None] = list(data_paths(cfg.data, cfg.data_options))
    bc = cfg.backbone_config
    paths += [bc.weights if bc.weights not in WEIGHT_SOURCES else None, bc.model_id, cfg.backbone]
    return paths


def prepare_run(cfg: RunConfig, resume: bool) -> Path:
    """Check the output and work folders; write the run config for a fresh run."""
    out = Path(cfg.out)
    work = work_dir(out)
    if resume:
        return work
    inputs = run_inputs(cfg)
    check_writable_target(out, cfg.overwrite, inputs)
    if work.exists():
        if not cfg.overwrite:
            raise Conflict(f"an unfinished run left {work}; continue it with {opt('resume')} {out} or pass "
                           f"{opt('overwrite')} to start over", field="out")
        remove_output(work, inputs)
    with atomic_dir(work, kind="work") as tmp:
        (tmp / RUN_FILE).write_text(dump(cfg))
    return work


def _image_side(cfg: RunConfig) -> int | None:
    """The input side images are reduced toward on load: the model's, when known before the data."""
    if cfg.backbone_config.image_size is not None:
        return cfg.backbone_config.image_size
    if backbone_modality(cfg.backbone) != "image" or is_from_scratch(cfg.backbone):
        return None
    try:
        with torch.device("meta"):
            backbone = build_backbone(cfg.backbone, replace(cfg.backbone_config, weights="none"))
        return int(backbone.preprocessing()["input_size"][-1])
    except (RobustuneError, RuntimeError, KeyError, TypeError, ValueError):
        return None


def _check_memory(spec: ModelSpec, cfg: RunConfig, splits: Splits) -> None:
    """Refuse a run that cannot fit in memory, before the model or the inputs are allocated."""
    n = sum(splits.sizes().values())
    trains_backbone = cfg.adapter != "linear-probe"
    try:
        estimate, size = estimate_training(spec, n, cfg.train.batch_size, trains_backbone,
                                           cfg.train.eval_batch_size)
    except BUILD_ERRORS:  # a backbone the meta device cannot build: the real build will tell
        return
    what = f"training {cfg.backbone} on {n} examples" + (f" at {size} px with --batch-size "
                                                         f"{cfg.train.batch_size}" if size else "")
    check_fits(estimate, what, "lower --image-size, --batch-size, --per-class or the model's width")


def _check_world(cfg: RunConfig, plan: TrainPlan, n_train: int) -> None:
    """What data-parallel training (``--nproc``) cannot do, refused before any epoch."""
    world_size = cfg.train.world_size
    if world_size == 1:
        return
    if plan.epoch_hook is not None:
        raise Unsupported(f"adapter {cfg.adapter} unfreezes layers as the epochs pass, which data-parallel "
                          f"training cannot follow; drop {opt('nproc')}", field="nproc")
    if n_train < world_size:
        raise InvalidInput(f"the training split has {n_train} examples, fewer than the {world_size} "
                           f"training processes; lower {opt('nproc')}", field="nproc")


def _has_checkpoint(work: Path) -> bool:
    return find_checkpoint(work / "ckpt") is not None


@dataclass
class Prepared:
    """What ``setup`` made: the resolved config, data, splits, the model, its inputs and plan."""

    cfg: RunConfig
    source: str
    splits: Splits
    spec: ModelSpec
    model: Classifier
    preprocessing: dict[str, Any]
    inputs: dict[str, Inputs]
    plan: TrainPlan
    device: torch.device
    clock: dict[str, float]
    numerics: dict[str, Any] = field(default_factory=dict)  # what training and evaluation computed in


def setup(cfg: RunConfig, events: Reporter, resume: bool = False,
          device: torch.device | None = None) -> Prepared:
    """Every check, the data and its splits, the model and its inputs: nothing is written yet
    (``device``: a rank's own, else ``--device``'s)."""
    if cfg.adapter != "auto":
        registry.entry("adapter", cfg.adapter)  # unknown names fail before any heavy work
    registry.entry("head", cfg.head)
    if cfg.recipe != "auto":
        registry.entry("recipe", cfg.recipe)
    device = device or resolve_device(cfg.train.device)
    if not resume:
        check_writable_target(Path(cfg.out), cfg.overwrite, run_inputs(cfg))
    torch.manual_seed(cfg.train.seed)
    events.progress("loading data", 0)
    source = load_data(cfg.data, replace(cfg.data_options, image_side=_image_side(cfg)))
    splits = make_splits(source, cfg.split)
    _check_modality(backbone_modality(cfg.backbone), splits, cfg)  # before loading weights
    cfg = resolve_names(cfg, splits)
    adapter_options(cfg)  # the adapter's options, checked before the model is built
    spec = ModelSpec(cfg.backbone, len(splits.train.classes), cfg.backbone_config, cfg.head,
                     {"dropout": cfg.dropout})
    _check_memory(spec, cfg, splits)
    events.progress("building the model", 0)
    model = build_classifier(spec)
    _check_modality(model.modality, splits, cfg)
    recipe = registry.get("recipe", cfg.recipe)
    recipe.check(model, splits.unlabeled is not None)
    if cfg.train.world_size > 1 and not getattr(recipe, "distributed", False):
        raise Unsupported(f"recipe {cfg.recipe} trains in one process; drop {opt('nproc')} (or use "
                          f"{opt('recipe')} supervised)", field="nproc")
    start = time.perf_counter()
    events.progress("preprocessing", 0)
    pre, inputs = _prepare(model, splits)
    clock = {"preprocess": time.perf_counter() - start}
    plan = _plan(model, cfg, events)
    _check_world(cfg, plan, num_examples(inputs["train"]))
    return Prepared(cfg, source.name, splits, spec, model, pre, inputs, plan, device, clock)


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
                             log=True, examples=n_inputs)
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
        return evaluate(computing, prep.inputs[split], getattr(splits, split).labels, splits.train.classes,
                        cfg.train.eval_batch_size, prep.device)

    if outcome.val_logits is not None:  # the final weights learned from validation too: before that
        val = classification_metrics(splits.val.labels, outcome.val_logits.argmax(1), splits.train.classes)
    else:
        val = measure("val")
    metrics = {"val": val, **({"test": measure("test")} if holdout else {})}
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
    }
    model.to("cpu")
    events.progress("writing the bundle", 0)
    out = save_bundle(Path(cfg.out), model, meta, getattr(model.backbone, "tokenizer", None),
                      overwrite=cfg.overwrite or resume, inputs=run_inputs(cfg))
    return TrainResult(out, metrics, history, prep.clock, prep.plan.trainable_count(), splits.sizes(), cfg,
                       outcome.extra)


def train_rank(cfg: RunConfig, resume: bool, events: Events | Reporter | None, holdout: bool,
               device: torch.device, started: Callable[[], None]) -> TrainResult:
    """One rank of a data-parallel run, inside its process group: rank 0 prepares the work folder
    (then calls ``started``), writes the checkpoints and the bundle; every rank returns rank 0's result."""
    report = reporter(events)
    prep = setup(cfg, report, resume, device)
    if is_main():
        prepare_run(cfg, resume)
        started()
    barrier()  # the work folder exists before any rank looks for a checkpoint in it
    outcome = fit(prep, work_dir(Path(cfg.out)), report)
    result = None
    if is_main():
        result = save(prep, outcome, holdout, report, resume)
        remove_output(work_dir(Path(cfg.out)))
    return cast(TrainResult, share_result(result))


def _launch(cfg: RunConfig, resume: bool, report: Reporter, holdout: bool,
            started: Callable[[], None]) -> TrainResult:
    """Start the ranks of a ``--nproc``/``--nnodes`` run through its launcher (``auto``: Ray inside a Ray
    job, else torch)."""
    name = cfg.train.launcher
    if name == "auto":
        name = "ray" if in_ray() else "torch"
    result: TrainResult = registry.get("launcher", name).launch(cfg, resume, report, holdout, started)
    return result


def in_ray() -> bool:
    """Whether this process is a Ray worker (a job the Ray executor runs)."""
    import sys

    if "ray" not in sys.modules:
        return False
    import ray

    return bool(ray.is_initialized())


def run_training(cfg: RunConfig, resume: bool = False, events: Events | Reporter | None = None,
                 holdout: bool = True) -> TrainResult:
    """Fine-tune as ``cfg`` says and write the bundle; resume from the work folder if asked.

    ``holdout=False`` leaves the test split untouched (model selection reads validation only).
    Ctrl-C or a cancel keeps the last finished epoch for ``--resume``; a diverged loss writes
    nothing.
    """
    report = reporter(events)
    out = Path(cfg.out)
    work = work_dir(out)
    started = False  # set once this call owns the work folder

    def start() -> None:
        nonlocal started
        started = True

    # a --nnodes run's other machines write nothing (and may share the output's file system)
    with output_lock(out) if cfg.train.node_rank == 0 else nullcontext():
        try:
            if cfg.train.world_size > 1 and world() is None:
                try:
                    return _launch(cfg, resume, report, holdout, start)
                except RankFailed as exc:
                    if started and _has_checkpoint(work):
                        raise RankFailed(f"{exc}; the last finished epoch is kept: continue with "
                                         f"`robustune train --resume {out}`") from None
                    raise
            prep = setup(cfg, report, resume)
            prepare_run(cfg, resume)  # only once every check has passed
            started = True
            result = save(prep, fit(prep, work, report), holdout, report, resume)
            remove_output(work)
            return result
        except (KeyboardInterrupt, Interrupted) as exc:
            what = "cancelled" if isinstance(exc, Cancelled) else "interrupted"
            kind = Cancelled if isinstance(exc, Cancelled) else Interrupted
            if started and _has_checkpoint(work):
                raise kind(f"{what}; the last finished epoch is kept: continue with "
                           f"`robustune train --resume {out}`") from None
            if started and not resume:
                remove_output(work)
            raise kind(f"{what} before the first epoch finished; nothing was kept") from None
        except TrainingDiverged:
            if started:
                remove_output(work)
            raise
        except Exception:
            if started and not resume and not _has_checkpoint(work):
                remove_output(work)  # nothing to resume: a rerun starts clean
            raise


def resume_config(path: Path) -> RunConfig:
    """The config of an unfinished run, from ``OUT.work/run.json`` (``path`` is OUT or OUT.work)."""
    out = path.with_name(path.name.removesuffix(".work")) if path.name.endswith(".work") else path
    run_file = work_dir(out) / RUN_FILE
    if not run_file.is_file():
        raise NotFound(
            f"nothing to resume at {out}: no {work_dir(out).name}/{RUN_FILE}; start the run again "
            f"without {opt('resume')}"
        )
    fix = f"start over with --overwrite (or delete {work_dir(out)})"
    cfg = RunConfig.from_json(read_json(run_file, fix), str(run_file), fix)
    return replace(cfg, out=str(out))
