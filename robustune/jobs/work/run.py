"""The ``run`` job's work: train, audit and report into one folder, skipping the finished steps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explain.sections.card import model_identity
from finetune.data.config import data_name
from finetune.driver import run_training
from finetune.run.workdir import resume_config, work_dir
from plugins.atomic import output_lock
from plugins.bundle import read_meta
from plugins.errors import InvalidInput
from plugins.events import Events, Reporter, reporter
from robustness.report import read_audit_report
from robustune.jobs import audit as audit_job
from robustune.jobs import report as report_job

if TYPE_CHECKING:
    from finetune.run_config import RunConfig
    from robustune.jobs.run import RunSpec


def run_all(spec: RunSpec, events: Events | Reporter | None = None) -> dict[str, Any]:
    """Fine-tune, audit and report into ``spec.out``; finished steps are kept."""
    report = reporter(events)
    out = Path(spec.out)
    bundle, audit, page, labels = out / "model", out / "audit", out / "report.html", out / "labels"
    spec.audit_config()  # bad attack names fail before any training
    ran: list[str] = []
    skipped: list[str] = []
    with output_lock(out):
        report.log(f"{spec.run.backbone} ({spec.run.adapter}) on {spec.run.data}")
        for name, step in (
            ("train", lambda: _train(spec, bundle, report)),
            *([("labels", lambda: _labels(spec, bundle, labels, report))] if label_folds(spec) else []),
            ("audit", lambda: _audit(spec, bundle, audit, report)),
            ("report", lambda: _report(spec, bundle, audit, page, report,
                                       labels if (labels / "labels.json").is_file() else None,
                                       stale="audit" in ran)),
        ):
            (ran if step() else skipped).append(name)
    metrics = read_meta(bundle).metrics
    return {"bundle": bundle, "audit": audit, "report": page, "ran": ran, "skipped": skipped,
            "labels": labels if (labels / "labels.json").is_file() else None,
            "metrics": metrics, "audit_report": read_audit_report(audit / "audit.json")}


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


def label_folds(spec: RunSpec) -> int:
    """The labels step's folds: as given, else 5 for a pretrained model (its features: seconds) and 0 for
    one trained from scratch (five more trainings)."""
    if spec.label_folds is not None:
        return spec.label_folds
    return 5 if _pretrained(spec.run) else 0


def _pretrained(cfg: RunConfig) -> bool:
    """A model on pretrained weights (not from scratch, not ``--weights none``)."""
    from finetune.run.prepare import is_from_scratch

    return not is_from_scratch(cfg.backbone) and cfg.backbone_config.weights != "none"


def _labels(spec: RunSpec, bundle: Path, target: Path, report: Reporter) -> bool:
    if (target / "labels.json").is_file():
        report.log(f"labels: done earlier ({target})")
        return False
    from robustune.jobs import labels as labels_job

    cfg = replace(spec.run, out=str(bundle))
    fast = _pretrained(cfg) and cfg.adapter not in ("linear-probe", "auto")  # a probe is cheap as it is
    labels_job.run(labels_job.LabelsSpec(str(target), cfg, label_folds(spec), fast=fast, overwrite=True),
                   report)
    return True


def _audit(spec: RunSpec, bundle: Path, target: Path, report: Reporter) -> bool:
    if (target / "audit.json").is_file():
        try:
            done = read_audit_report(target / "audit.json")
        except InvalidInput as exc:
            done = None
            report.log(f"audit: the one done earlier cannot be read ({exc}); auditing again")
        if done is not None and (not spec.certify or "certified" in done):
            report.log(f"audit: done earlier ({target})")
            return False
        if done is not None:
            report.log(f"audit: done earlier without --certify; auditing again with it ({target})")
    cfg = spec.audit_config(read_meta(bundle).modality)
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
            skip_corrupt=opts.skip_corrupt,
            attack_options=dict(spec.attack_options),
            independent=cfg.independent,
            certify=spec.certify,
        ),
        report,
    )
    return True


def _report(spec: RunSpec, bundle: Path, audit: Path, page: Path, report: Reporter,
            labels: Path | None = None, stale: bool = False) -> bool:
    """The report page (and PDF); ``stale``: the audit was just redone, so a page made earlier is too (as
    is a page older than the audit, when a run stopped between the two)."""
    written = audit / "audit.json"
    newer = page.is_file() and written.is_file() and written.stat().st_mtime_ns > page.stat().st_mtime_ns
    stale = stale or newer
    if not stale and page.is_file() and (not spec.pdf or page.with_suffix(".pdf").is_file()):
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
            shortcut_n=spec.shortcut_n,
            skip_corrupt=opts.skip_corrupt,
            labels=str(labels) if labels is not None else None,
            title=f"{model_identity(read_meta(bundle))} on {data_name(spec.run.data)}: "
                  f"run {out_name(spec)}",
        ),
        report,
    )
    return True
