"""The ``audit`` job's work: attack a bundle on labeled data; write audit.json, the curve and the examples."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from finetune.data.config import DataOptions
from finetune.data.spec import data_paths
from finetune.data.types import TextData
from finetune.device import resolve_device
from finetune.evaluation import bundle_data, bundle_labels
from finetune.numerics import apply
from finetune.numerics.batch import batch_for, certify_batch, probe_args
from finetune.numerics.timing import FORWARD_SHARE
from finetune.precision import pick
from finetune.predict import smoothing_for
from finetune.preprocess import prepare_inputs
from plugins.atomic import check_writable_target, output_lock
from plugins.bundle import load_bundle, read_meta
from plugins.errors import InvalidInput, opt
from plugins.events import Events, Muted, Reporter, reporter
from plugins.numerics import FP32
from plugins.registry import registry
from robustness.attacks.base import AttackConfig
from robustness.audit import AuditResult, run_audit, validate
from robustness.certify import radius_grid
from robustness.config import AuditConfig, SmoothingConfig
from robustness.outputs import write_audit
from robustness.smoothing_audit import (
    ATTACK_SAMPLES,
    ATTACK_STEPS,
    certified_report,
    image_groups,
    text_groups,
)
from robustness.text_audit import run_text_audit

if TYPE_CHECKING:
    from robustune.jobs.audit import AuditSpec


def audit(spec: AuditSpec, events: Events | Reporter | None = None) -> dict[str, Any]:
    """Audit and write the folder atomically; a cancel leaves no audit.json behind."""
    report = reporter(events)
    modality = read_meta(Path(spec.bundle)).modality
    cfg = spec.config(modality)
    validate(cfg, modality)  # every setting before any folder is made
    options = DataOptions(text_column=spec.text_column, label_column=spec.label_column,
                          skip_corrupt=spec.skip_corrupt)
    inputs: list[Path | str | None] = [spec.bundle, *data_paths(spec.data, options)]
    check_writable_target(spec.target, spec.overwrite, inputs)
    with output_lock(spec.target):
        check_writable_target(spec.target, spec.overwrite, inputs)  # again, now that no one else writes it
        result = _attack(spec, cfg, options, report)
        report.progress("writing the audit", 0)
        write_audit(result, spec.target, spec.overwrite, inputs)
        partial_file(spec).unlink(missing_ok=True)
    files = sorted(p for p in spec.target.iterdir() if not p.name.startswith("."))
    return {"out": spec.target, "report": result.report, "files": files}


def _attack(spec: AuditSpec, cfg: AuditConfig, options: DataOptions, report: Reporter) -> AuditResult:
    bundle = load_bundle(Path(spec.bundle))
    _, dataset = bundle_data(bundle, spec.data, spec.split, options)
    if spec.n is not None and spec.n > len(dataset):
        raise InvalidInput(f"{opt('n')} {spec.n} is larger than the {len(dataset)} examples available; "
                           "lower it",
                           field="n")
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(cfg.seed))
    dataset = dataset.subset(order[: spec.n or min(spec.default_n, len(dataset))].tolist())
    labels = bundle_labels(dataset, bundle)
    inputs = prepare_inputs(dataset, bundle.meta.preprocessing, bundle.tokenizer)
    quiet = Reporter(Muted(report.sink))  # the numerics check's attacks: stoppable, not in the audit's events
    if isinstance(dataset, TextData):
        max_length = bundle.meta.max_length
        texts = dataset.texts

        def attack(model: Any, n: int, small: AuditConfig, to: Reporter = quiet) -> AuditResult:
            return run_text_audit(model, bundle.tokenizer, max_length, texts[:n], labels[:n], bundle.labels,
                                  small, to)
    else:
        pixels = inputs["pixels"].float() / 255.0

        def attack(model: Any, n: int, small: AuditConfig, to: Reporter = quiet) -> AuditResult:
            return run_audit(model, pixels[:n], labels[:n], bundle.labels, small, to)
    work = _work(cfg, len(labels), isinstance(dataset, TextData)) + _certify_work(spec, bundle, len(labels))
    device = resolve_device(spec.device)
    check, check_cost = _robust_check(attack, cfg, len(labels), isinstance(dataset, TextData))
    model, choice = pick(bundle.model.to(device), inputs, device, "gradient", spec.precision, report,
                         extra_check=check, examples=work, extra_examples=check_cost)
    batch = batch_for(model, probe_args(inputs, device), device, "gradient", cfg.batch_size, len(labels),
                      spec.batch_size)
    result = attack(model, len(labels), replace(cfg, batch_size=batch.size), report)
    result.report["numerics"] = choice.to_json()
    result.report["batch"] = {**batch.to_json(), "device": str(device)}
    if spec.certify:
        certified = _certify(spec, bundle, model, inputs, labels, device, batch.size, report)
        result.report["certified"] = certified
        result.report["flags"] = [*result.report["flags"], *certified["flags"]]
    return result


def partial_file(spec: AuditSpec) -> Path:
    """Where a certification keeps its finished inputs until the audit is written."""
    return spec.target.parent / f".{spec.target.name}.certify.json"


def smoothing(spec: AuditSpec, bundle: Any) -> tuple[SmoothingConfig, str]:
    """The certification's settings (``finetune.predict.smoothing_for``), and where its sigma came from."""
    cfg = replace(smoothing_for(bundle, spec.sigma, spec.certify_n0, spec.certify_n, spec.certify_alpha),
                  seed=spec.seed)
    trained = float(bundle.meta.training.get("noise_train") or 0.0)
    why = ("given" if spec.sigma else f"the model was trained with --noise-train {trained:g}" if trained
           else "the default; the model was not trained with noise (--noise-train), so expect little")
    return cfg, why


def _certify(spec: AuditSpec, bundle: Any, model: nn.Module, inputs: dict[str, torch.Tensor],
             labels: torch.Tensor, device: torch.device, batch: int, report: Reporter) -> dict[str, Any]:
    cfg, why = smoothing(spec, bundle)
    model.eval()
    copies = certify_batch(model, probe_args(inputs, device), device)
    cfg = replace(cfg, batch_size=copies.size)
    if bundle.modality == "image":
        pixels = inputs["pixels"].float().div(255).to(device)
        groups, values = image_groups(model, pixels), int(pixels[0].numel())
    else:  # texts: on the token embeddings (each text at its own length)
        ids, mask = inputs["input_ids"].to(device), inputs["attention_mask"].to(device)
        with torch.no_grad():
            embeds = model.get_input_embeddings()(ids).float()  # type: ignore[operator]
        groups = text_groups(model, [e[: int(m.sum())] for e, m in zip(embeds, mask, strict=True)])
        values = None
    out = certified_report(groups, len(labels), labels.to(device), bundle.labels, cfg, report, batch,
                           partial_file(spec), values)
    return {**out, "sigma_source": why, "batch": copies.to_json()}


def _certify_work(spec: AuditSpec, bundle: Any, n: int) -> int:
    """What ``--certify`` adds to the audit, in input gradients (a forward pass counts a third of one):
    n0 + n noisy copies per input, then PGD-L2 on the smoothed classifier at every radius (steps of
    ``ATTACK_SAMPLES`` copies) and its vote of n0 copies. 0 without ``--certify``."""
    if not spec.certify:
        return 0
    cfg = smoothing(spec, bundle)[0]
    radii = len(radius_grid(cfg))
    attack = radii * ATTACK_STEPS * ATTACK_SAMPLES
    return n * (attack + int((cfg.n0 + cfg.n + radii * cfg.n0) * FORWARD_SHARE))


def _work(cfg: AuditConfig, n: int, text: bool) -> int:
    """The gradients (or queries) the audit will spend, for the numerics choosing's 10% rule.

    Per-budget mode: every sample at every budget to the last step. Default (cascade) image audits:
    half the first budget's work, since later budgets attack only the samples still correct and
    iterative attacks stop at each sample's first success (bench/bench_pgd.py's curve spent 1,799
    gradients where this estimates 2,750). Text attacks: steps x budgets per sample, at most.
    """
    if text:
        return n * max(1, cfg.steps) * len(cfg.eps) * len(cfg.attacks)
    budget = AttackConfig(eps=max(cfg.eps), steps=cfg.steps, n_queries=cfg.n_queries)
    per_sample = sum(registry.get("attack", a)(budget).cost() for a in cfg.attacks)
    return n * per_sample * len(cfg.eps) if cfg.independent else max(1, n * per_sample // 2)


CHECK_N = 64  # examples of the robust-accuracy check of a candidate numerics
CHECK_STEPS = 10  # its iterative attack's steps (the audit's own, up to this)


def _robust_check(attack: Callable[[Any, int, AuditConfig], AuditResult], cfg: AuditConfig,
                  n: int, text: bool) -> tuple[Callable[[nn.Module], bool], int]:
    """(the check, what it costs in gradients at most): a candidate passes when its robust accuracy
    (first attack, middle budget, up to 64 examples) is within 1 point of fp32's."""
    small = replace(cfg, attacks=cfg.attacks[:1], eps=(cfg.eps[len(cfg.eps) // 2],),
                    steps=min(cfg.steps, CHECK_STEPS))
    n = min(n, CHECK_N)
    cost = 2 * n * _work(replace(small, independent=True), 1, text)  # fp32's run and the candidate's

    def robust(model: nn.Module) -> float:
        stats = attack(model, n, small).report["attacks"][small.attacks[0]]
        return float(next(iter(stats.values()))["robust_accuracy"])

    def check(candidate: nn.Module) -> bool:
        reference = robust(apply(copy.deepcopy(candidate), FP32))
        return abs(robust(candidate) - reference) <= 0.01

    return check, cost
