"""The ``audit`` job: attack a bundle on labeled data; write audit.json, the curve and the examples."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finetune.data.spec import data_paths
from finetune.data.types import DataOptions, TextData
from finetune.evaluation import bundle_data, bundle_labels
from finetune.precision import pick
from finetune.preprocess import prepare_inputs
from plugins.atomic import check_writable_target, output_lock
from plugins.bundle import load_bundle, read_meta
from plugins.errors import InvalidInput, opt
from plugins.events import Events, Muted, Reporter, reporter
from plugins.numerics import FP32, PRECISION_HELP, apply
from plugins.options import split_options
from plugins.records import Result, Spec
from plugins.registry import registry
from plugins.schema import option, require
from robustness.audit import AuditConfig, AuditResult, run_audit, validate
from robustness.defaults import default_attacks, default_eps
from robustness.outputs import write_audit
from robustness.text_audit import run_text_audit

DEFAULT_N = 500


def attack_options(attacks: tuple[str, ...], given: dict[str, Any]) -> dict[str, Any]:
    """Each attack's declared options from ``KEY=VALUE`` / ``ATTACK.KEY=VALUE`` settings (names checked)."""
    for name in attacks:
        registry.entry("attack", name)
    return split_options("attack", attacks, given, "attack_options")


@dataclass(frozen=True)
class AuditSpec(Spec):
    """Which bundle, on which data, with which attacks at which budgets."""

    bundle: str = option(help="bundle folder (an image or text model)", argument=True)
    data: str = option(help="labeled data; its holdout is used when it is the bundle's training source")
    attacks: tuple[str, ...] | None = option(
        None, parse="names",
        help="comma list of attack plugins (images: fgsm,pgd; texts: embedding-pgd,word-level)")
    eps: tuple[float, ...] | None = option(
        None, parse="numbers",
        help="comma list of budgets in (0, 1]: pixel units for images (1/255,2/255,4/255,8/255); for "
             "texts the relative embedding norm or fraction of words (0.02,0.05,0.1,0.2)")
    n: int | None = option(None, help=f"examples to attack (a fixed shuffle of the split; up to {DEFAULT_N})")
    steps: int = option(10, help="iterations of iterative attacks")
    n_queries: int = option(1000, help="queries of the square attack")
    batch_size: int = option(64, help="examples per attack batch")
    seed: int = option(0, help="the audit's shuffle and the attacks' randomness")
    split: str = option("auto", help="auto (the holdout when the data is the bundle's training source), "
                                     "holdout or all")
    out: str | None = option(None, help="audit folder (default: BUNDLE/audit)")
    overwrite: bool = option(False, help="replace an existing audit folder that robustune wrote")
    attack_options: dict[str,
                         Any] = option(help="the attacks' own options, KEY=VALUE or ATTACK.KEY=VALUE,...",
                                            parse="kv", default_factory=dict)
    text_column: str = option("text", help="CSV: the text column")
    label_column: str = option("label", help="CSV: the label column")
    default_n: int = option(DEFAULT_N, help="examples when n is not given", cli=False)
    independent: bool = option(False, help="attack every sample at every budget to the last step (as "
                               "published numbers are made; default: skip samples already fooled)")
    precision: str = option("auto", help=PRECISION_HELP + "; auto also requires the robust accuracy "
                                         "within 1 point of fp32 on a sample")

    def __post_init__(self) -> None:
        require(self, [("n", self.n is None or self.n >= 1, "must be at least 1"),
                       ("attacks", self.attacks is None or len(self.attacks) > 0, "must name an attack"),
                       ("eps", self.eps is None or len(self.eps) > 0, "must give a budget"),
                       ("default_n", self.default_n >= 1, "must be at least 1")])

    @property
    def target(self) -> Path:
        """Where the audit is written."""
        return Path(self.out) if self.out else Path(self.bundle) / "audit"

    def config(self, modality: str) -> AuditConfig:
        """The audit settings, with the modality's default attacks and budgets where none were given."""
        attacks = self.attacks or default_attacks(modality)
        return AuditConfig(attacks=attacks, eps=self.eps or default_eps(modality), steps=self.steps,
                           n_queries=self.n_queries, batch_size=self.batch_size, seed=self.seed,
                           options=attack_options(attacks, self.attack_options), independent=self.independent)


@dataclass
class AuditOutput(Result):
    """The audit folder, its report (audit.json) and the files in it."""

    out: Path
    report: dict = field(default_factory=dict)  # type: ignore[type-arg]
    files: list[Path] = field(default_factory=list)


def run(spec: AuditSpec, events: Events | Reporter | None = None) -> AuditOutput:
    """Audit and write the folder atomically; a cancel leaves no audit.json behind."""
    report = reporter(events)
    modality = str(read_meta(Path(spec.bundle))["modality"])
    cfg = spec.config(modality)
    validate(cfg, modality)  # every setting before any folder is made
    options = DataOptions(text_column=spec.text_column, label_column=spec.label_column)
    inputs: list[Path | str | None] = [spec.bundle, *data_paths(spec.data, options)]
    check_writable_target(spec.target, spec.overwrite, inputs)
    with output_lock(spec.target):
        check_writable_target(spec.target, spec.overwrite, inputs)  # again, now that no one else writes it
        result = _attack(spec, cfg, options, report)
        report.progress("writing the audit", 0)
        write_audit(result, spec.target, spec.overwrite, inputs)
    files = sorted(p for p in spec.target.iterdir() if not p.name.startswith("."))
    return AuditOutput(spec.target, result.report, files)


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
    inputs = prepare_inputs(dataset, bundle.meta["preprocessing"], bundle.tokenizer)
    quiet = Reporter(Muted(report.sink))  # the numerics check's attacks: stoppable, not in the audit's events
    if isinstance(dataset, TextData):
        max_length = int(bundle.meta["preprocessing"]["max_length"])
        texts = dataset.texts

        def attack(model: Any, n: int, small: AuditConfig, to: Reporter = quiet) -> AuditResult:
            return run_text_audit(model, bundle.tokenizer, max_length, texts[:n], labels[:n], bundle.labels,
                                  small, to)
    else:
        pixels = inputs["pixels"].float() / 255.0

        def attack(model: Any, n: int, small: AuditConfig, to: Reporter = quiet) -> AuditResult:
            return run_audit(model, pixels[:n], labels[:n], bundle.labels, small, to)
    model, choice = pick(bundle.model, inputs, torch.device("cpu"), "gradient", spec.precision, report,
                         extra_check=_robust_check(attack, cfg, len(labels)))
    result = attack(model, len(labels), cfg, report)
    result.report["numerics"] = choice.to_json()
    return result


CHECK_N = 64  # examples of the robust-accuracy check of a candidate numerics
CHECK_STEPS = 10  # its iterative attack's steps (the audit's own, up to this)


def _robust_check(attack: Callable[[Any, int, AuditConfig], AuditResult], cfg: AuditConfig,
                  n: int) -> Callable[[nn.Module], bool]:
    """A candidate passes when its robust accuracy (first attack, middle budget, up to 64 examples) is
    within 1 point of fp32's."""
    small = replace(cfg, attacks=cfg.attacks[:1], eps=(cfg.eps[len(cfg.eps) // 2],),
                    steps=min(cfg.steps, CHECK_STEPS))
    n = min(n, CHECK_N)

    def robust(model: nn.Module) -> float:
        stats = attack(model, n, small).report["attacks"][small.attacks[0]]
        return float(next(iter(stats.values()))["robust_accuracy"])

    def check(candidate: nn.Module) -> bool:
        reference = robust(apply(copy.deepcopy(candidate), FP32))
        return abs(robust(candidate) - reference) <= 0.01

    return check
