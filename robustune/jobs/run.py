"""The ``run`` job: fine-tune, audit and report in one folder; a rerun keeps the finished steps.

Layout of ``OUT``: ``model/`` (the bundle), ``audit/`` (audit.json, curve, adversarial examples)
and ``report.html`` (+ ``report.pdf``). A step whose output exists is skipped on a rerun, and an
interrupted training resumes from its last epoch; delete a step's output to redo it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from explain.sections.card import model_identity
from finetune.driver import resume_config, run_training, work_dir
from finetune.run_config import RunConfig, from_options
from plugins.atomic import output_lock
from plugins.backbones import backbone_modality
from plugins.bundle import read_meta
from plugins.events import Events, Reporter, reporter
from plugins.records import Result, Spec
from plugins.registry import registry
from plugins.schema import option, require
from robustness.audit import AuditConfig, validate
from robustness.defaults import default_attacks, default_eps
from robustness.report import read_audit_report
from robustune.jobs import audit as audit_job
from robustune.jobs import report as report_job

STEP_OPTIONS = ("out", "attacks", "eps", "n", "steps", "pdf", "attack_options", "gallery", "quality_n",
                "n_steps", "gallery_method", "independent")


@dataclass(frozen=True)
class RunSpec(Spec):
    """The training run (its bundle goes to OUT/model), then the audit and the report."""

    out: str = option(help="folder for model/, audit/ and report.html")
    run: RunConfig = option(help="the training run (every train option)")
    attacks: tuple[str, ...] | None = option(None, help="audit attacks (by modality, as for audit)",
                                             parse="names")
    eps: tuple[float, ...] | None = option(None, help="audit budgets (by modality, as for audit)",
                                           parse="numbers")
    n: int = option(200, help="examples to audit (at most the holdout)")
    steps: int = option(10, help="iterations of iterative attacks")
    pdf: bool = option(False, help="also print the report to PDF (needs Chromium)")
    attack_options: dict[str,
                         Any] = option(help="the attacks' own options, KEY=VALUE or ATTACK.KEY=VALUE,...",
                                            parse="kv", default_factory=dict)
    gallery: int = option(4, help="report: examples per gallery (0: none)")
    quality_n: int = option(8, help="report: examples the attribution-quality metrics use")
    n_steps: int = option(32, help="report: integrated-gradients steps")
    gallery_method: str | None = option(None, help="report: the galleries' explainer (default: the page's "
                                        "most faithful by deletion)")
    independent: bool = option(False, help="audit: attack every sample at every budget to the last step "
                               "(default: skip samples already fooled)")

    def __post_init__(self) -> None:
        require(
            self,
            [
                ("n", self.n >= 1, "must be at least 1"),
                ("steps", self.steps >= 1, "must be at least 1"),
                ("gallery", self.gallery >= 0, "must be 0 or more"),
                ("quality_n", self.quality_n >= 1, "must be at least 1"),
                ("n_steps", self.n_steps >= 1, "must be at least 1"),
            ],
        )
        if self.gallery_method is not None:
            registry.entry("explainer", self.gallery_method)  # an unknown name fails before training

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RunSpec:
        """From flat options: every train option plus ``out``, ``attacks``, ``eps``, ``n``, ``pdf``."""
        own = {k: v for k, v in options.items() if k in STEP_OPTIONS}
        train = {k: v for k, v in options.items() if k not in STEP_OPTIONS}
        out = Path(str(own.get("out", "")))
        return cls.from_json(
            {**own, "out": str(out), "run": from_options({**train, "out": str(out / "model")})}, lax=True
        )

    def audit_config(self, modality: str | None = None) -> AuditConfig | None:
        """The audit's attacks and budgets (the modality's defaults unless given), checked; ``None`` while
        the modality is unknown (a from-scratch model takes it from the data, known once trained)."""
        modality = modality or backbone_modality(self.run.backbone)
        if modality is None:
            for name in self.attacks or ():
                registry.entry("attack", name)  # an unknown name still fails before training
            return None
        attacks = self.attacks or default_attacks(modality)
        cfg = AuditConfig(
            attacks=attacks,
            eps=self.eps or default_eps(modality),
            steps=self.steps,
            seed=self.run.train.seed,
            options=audit_job.attack_options(attacks, self.attack_options),
            independent=self.independent,
        )
        validate(cfg, modality)
        return cfg


@dataclass
class RunOutput(Result):
    """Where each step's output is, which steps ran now, and their main numbers."""

    bundle: Path
    audit: Path
    report: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    audit_report: dict[str, Any] = field(default_factory=dict)


def run(spec: RunSpec, events: Events | Reporter | None = None) -> RunOutput:
    """Fine-tune, audit and report into ``spec.out``; finished steps are kept."""
    report = reporter(events)
    out = Path(spec.out)
    bundle, audit, page = out / "model", out / "audit", out / "report.html"
    spec.audit_config()  # bad attack names fail before any training
    ran: list[str] = []
    skipped: list[str] = []
    with output_lock(out):
        report.log(f"{spec.run.backbone} ({spec.run.adapter}) on {spec.run.data}")
        for name, step in (
            ("train", lambda: _train(spec, bundle, report)),
            ("audit", lambda: _audit(spec, bundle, audit, report)),
            ("report", lambda: _report(spec, bundle, audit, page, report)),
        ):
            (ran if step() else skipped).append(name)
    metrics = read_meta(bundle).get("metrics", {})
    return RunOutput(bundle, audit, page, ran, skipped, metrics, read_audit_report(audit / "audit.json"))


def out_name(spec: RunSpec) -> str:
    """The run folder's name (``.`` resolved)."""
    return Path(spec.out).resolve().name


def _train(spec: RunSpec, bundle: Path, report: Reporter) -> bool:
    if (bundle / "robustune.json").is_file():
        report.log(f"train: done earlier ({bundle})")
        return False
    if (work_dir(bundle) / "run.json").is_file():
        report.log(f"train: resuming the unfinished run in {work_dir(bundle)}")
        run_training(resume_config(bundle), resume=True, events=report)
    else:
        run_training(replace(spec.run, out=str(bundle)), events=report)
    return True


def _audit(spec: RunSpec, bundle: Path, target: Path, report: Reporter) -> bool:
    if (target / "audit.json").is_file():
        report.log(f"audit: done earlier ({target})")
        return False
    cfg = spec.audit_config(str(read_meta(bundle)["modality"]))
    assert cfg is not None
    opts = spec.run.data_options
    audit_job.run(
        audit_job.AuditSpec(
            str(bundle),
            spec.run.data,
            cfg.attacks,
            cfg.eps,
            None,
            cfg.steps,
            seed=cfg.seed,
            out=str(target),
            overwrite=True,
            default_n=spec.n,
            text_column=opts.text_column,
            label_column=opts.label_column,
            attack_options=dict(spec.attack_options),
            independent=cfg.independent,
        ),
        report,
    )
    return True


def _report(spec: RunSpec, bundle: Path, audit: Path, page: Path, report: Reporter) -> bool:
    if page.is_file() and (not spec.pdf or page.with_suffix(".pdf").is_file()):
        report.log(f"report: done earlier ({page})")
        return False
    opts = spec.run.data_options
    report_job.run(
        report_job.ReportSpec(
            str(bundle),
            spec.run.data,
            str(page),
            str(audit),
            spec.pdf,
            opts.group_column,
            opts.groups_file,
            None,
            opts.text_column,
            opts.label_column,
            spec.gallery,
            spec.n_steps,
            spec.quality_n,
            overwrite=True,
            gallery_method=spec.gallery_method,
            title=f"{model_identity(read_meta(bundle))} on {report_job.data_name(spec.run.data)}: "
                  f"run {out_name(spec)}",
        ),
        report,
    )
    return True
