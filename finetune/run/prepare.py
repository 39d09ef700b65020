"""Everything a training checks and prepares before it writes anything: names resolved, the data, its
splits, the model, its inputs and its training plan (``setup``), and the run's work folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from finetune.adapters.base import TrainPlan
from finetune.augment import parse_augment
from finetune.batches import num_examples
from finetune.data.spec import data_paths, load_data
from finetune.data.splits import Splits, make_splits
from finetune.data.types import Data, ImageData
from finetune.device import resolve_device
from finetune.memory import check_fits, estimate_training
from finetune.model_defaults import data_modality, default_adapter, describe, model_defaults
from finetune.preprocess import Inputs, prepare_inputs
from finetune.quality.edits import apply_edits
from finetune.run.workdir import RUN_FILE, work_dir
from finetune.run_config import RunConfig, dump
from plugins.atomic import atomic_dir, check_writable_target, remove_output
from plugins.backbones import backbone_modality, build_backbone
from plugins.backbones.config import WEIGHT_SOURCES
from plugins.backbones.scratch import fit_to_data
from plugins.bundle import BUILD_ERRORS
from plugins.classifier import Classifier
from plugins.errors import (
    Conflict,
    InvalidInput,
    RobustuneError,
    Unsupported,
    opt,
)
from plugins.events import Reporter
from plugins.model import ModelSpec, build_classifier
from plugins.options import plugin_options
from plugins.registry import registry


def _check_modality(model_modality: str | None, splits: Splits, cfg: RunConfig) -> None:
    data_modality = splits.train.modality
    if model_modality is not None and model_modality != data_modality:
        example = "bert" if data_modality == "text" else "resnet18"
        raise InvalidInput(
            f"backbone {cfg.backbone} takes {model_modality} but data {cfg.data} is {data_modality}; "
            f"use {'an' if data_modality == 'image' else 'a'} {data_modality} backbone (e.g. {example})"
        )


def prepare_inputs_of(model: Classifier, splits: Splits) -> tuple[dict[str, Any], dict[str, Inputs]]:
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


def plan_of(model: Classifier, cfg: RunConfig, events: Reporter) -> TrainPlan:
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
    if cfg.train.noise_train > 0 and (model.modality != "image" or plan.cache_features):
        why = "a text model has no pixels to add noise to" if model.modality != "image" else \
            f"{cfg.adapter} caches its features once, so its inputs cannot be noisy"
        raise InvalidInput(f"{opt('noise_train')} trains on noisy pixels, but {why}; use {opt('adapter')} "
                           "full or partial on an image model, or drop it", field="noise_train")
    if plan.cache_features and parse_augment(cfg.train.augment):
        raise InvalidInput(
            f"{opt('augment')} cannot be combined with {cfg.adapter}: its features are cached once; "
            f"use {opt('adapter')} full or partial to train with augmentation"
            , field='augment')
    return plan


def defaults_note(cfg: RunConfig) -> str:
    """Which training defaults the run took, for the log."""
    if cfg.defaults == "generic":
        taken = f"robustune's generic training defaults ({opt('defaults')} generic)"
    elif cfg.model_defaults:
        taken = (f"{cfg.backbone}'s training defaults for {cfg.adapter}: {describe(cfg.model_defaults)} "
                 f"(your options override them; {opt('defaults')} generic turns them off)")
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
    what = f"training {cfg.backbone} on {n} examples" + (f" at {size} px with {opt('batch_size')} "
                                                         f"{cfg.train.batch_size}" if size else "")
    check_fits(estimate, what, f"lower {opt('image_size')}, {opt('batch_size')}, {opt('per_class')} or the "
                               "model's width", field="batch_size")


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


def _warn_unknown(model: Classifier, train: Inputs, events: Reporter) -> None:
    """Texts: say so when the tokenizer cannot read much of the training texts ([UNK] pieces), counted
    on the pieces the training will read."""
    tokenizer = getattr(model.backbone, "tokenizer", None)
    if model.modality != "text" or tokenizer is None or "input_ids" not in train:
        return
    from finetune.data.unknown_tokens import share_of_ids, unknown_warning

    share = share_of_ids(tokenizer, train["input_ids"], train["attention_mask"])
    warning = unknown_warning(share, "the training texts")
    if warning:
        events.log(f"warning: {warning}")


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
    splits = apply_edits(make_splits(source, cfg.split), cfg.data_options)
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
    pre, inputs = prepare_inputs_of(model, splits)
    _warn_unknown(model, inputs["train"], events)
    clock = {"preprocess": time.perf_counter() - start}
    plan = plan_of(model, cfg, events)
    _check_world(cfg, plan, num_examples(inputs["train"]))
    return Prepared(cfg, source.name, splits, spec, model, pre, inputs, plan, device, clock)
