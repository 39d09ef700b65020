"""``robustune run``: fine-tune, audit and report in one folder, resuming finished steps.

Layout of ``OUT``: ``model/`` (the bundle), ``audit/`` (audit.json, curve, adversarial
examples) and ``report.html`` (+ ``report.pdf``). A step whose output exists is skipped on a
rerun, and an interrupted training resumes from its last epoch; delete a step's output to redo it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from finetune.recipes.supervised import resume_config, run_training, work_dir
from finetune.run_config import RunConfig
from plugins.backbones import backbone_modality
from plugins.errors import RobustuneError
from robustness.audit import DEFAULT_ATTACKS, DEFAULT_EPS, AuditConfig, validate
from robustness.text_audit import TEXT_EPS
from robustune.audit_cmd import audit_bundle, audit_table, text_attack_table
from robustune.present import console, metrics_table
from robustune.report_cmd import ReportConfig, build_report


@dataclass(frozen=True)
class PipelineConfig:
    """The audit and report steps (training is the RunConfig)."""

    attacks: tuple[str, ...] | None = None  # default: by modality
    eps: tuple[float, ...] | None = None  # default: by modality
    audit_n: int = 200
    steps: int = 10
    pdf: bool = False
    report: ReportConfig = field(default_factory=ReportConfig)

    def __post_init__(self) -> None:
        if self.audit_n < 1:
            raise RobustuneError(f"--n must be at least 1, got {self.audit_n}")


@dataclass
class PipelineResult:
    """Where each step's output is, and which steps ran now (the rest were found done)."""

    bundle: Path
    audit: Path
    report: Path
    ran: list[str]


def audit_config(run: RunConfig, cfg: PipelineConfig) -> AuditConfig:
    """The audit's attacks and budgets, by the model's modality unless given; checked here."""
    modality = backbone_modality(run.backbone) or "image"
    attacks = cfg.attacks or tuple(DEFAULT_ATTACKS[modality].split(","))
    eps = cfg.eps or (TEXT_EPS if modality == "text" else DEFAULT_EPS)
    audit_cfg = AuditConfig(attacks=attacks, eps=eps, steps=cfg.steps, seed=run.train.seed)
    validate(audit_cfg, modality)
    return audit_cfg


def train_step(run: RunConfig, bundle: Path, progress: bool) -> bool:
    """Train into ``bundle`` unless it is there; an unfinished run resumes. True if it ran."""
    if (bundle / "robustune.json").is_file():
        console.print(f"train: done earlier ({bundle})", soft_wrap=True)
        return False
    if (work_dir(bundle) / "run.json").is_file():
        console.print(f"train: resuming the unfinished run in {work_dir(bundle)}", soft_wrap=True)
        result = run_training(resume_config(bundle), resume=True, progress=progress)
    else:
        result = run_training(replace(run, out=str(bundle)), progress=progress)
    console.print(metrics_table(f"{result.config.backbone} + {result.config.adapter}", result.metrics))
    return True


def audit_step(run: RunConfig, bundle: Path, target: Path, cfg: PipelineConfig) -> bool:
    """Audit the bundle's holdout into ``target`` unless it is there. True if it ran."""
    if (target / "audit.json").is_file():
        console.print(f"audit: done earlier ({target})", soft_wrap=True)
        return False
    modality = backbone_modality(run.backbone) or "image"
    audit_cfg = audit_config(run, cfg)
    result = audit_bundle(bundle, run.data, audit_cfg, None, target, default_n=cfg.audit_n, overwrite=True,
                          options=run.data_options)
    console.print(audit_table(result.report))
    if modality == "text":
        console.print(text_attack_table(result.report))
    return True


def report_step(run: RunConfig, bundle: Path, audit: Path, target: Path, cfg: PipelineConfig) -> bool:
    """Write the report unless it is there. True if it ran."""
    if target.is_file() and (not cfg.pdf or target.with_suffix(".pdf").is_file()):
        console.print(f"report: done earlier ({target})", soft_wrap=True)
        return False
    with console.status("writing the report"):
        build_report(bundle, run.data, target, audit, cfg.pdf, run.data_options, cfg.report, overwrite=True)
    return True


def run_pipeline(run: RunConfig, out: Path, cfg: PipelineConfig | None = None,
                 progress: bool = True) -> PipelineResult:
    """Fine-tune, audit and report into ``out``; finished steps are kept."""
    cfg = cfg or PipelineConfig()
    bundle, audit, report = out / "model", out / "audit", out / "report.html"
    audit_config(run, cfg)  # bad attack names fail before any training
    ran = []
    console.rule(f"{run.backbone} ({run.adapter}) on {run.data}")
    if train_step(run, bundle, progress):
        ran.append("train")
    if audit_step(run, bundle, audit, cfg):
        ran.append("audit")
    if report_step(run, bundle, audit, report, cfg):
        ran.append("report")
    return PipelineResult(bundle, audit, report, ran)
