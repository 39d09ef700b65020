"""The ``run`` job: fine-tune, audit and report in one folder; a rerun keeps the finished steps.

Layout of ``OUT``: ``model/`` (the bundle), ``labels/`` (the labels most likely wrong, near-copies),
``audit/`` (audit.json, curve, adversarial examples) and ``report.html`` (+ ``report.pdf``). A step
whose output exists is skipped on a rerun, and an interrupted training resumes from its last epoch;
delete a step's output to redo it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.run_config import RunConfig, from_options
from plugins.backbones import backbone_modality
from plugins.events import Events, Reporter
from plugins.records import Result, Spec
from plugins.registry import registry
from plugins.schema import option, require
from robustness.config import AuditConfig
from robustness.defaults import default_attacks, default_eps
from robustune.jobs import Job
from robustune.jobs.audit import attack_options

STEP_OPTIONS = ("out", "attacks", "eps", "n", "steps", "pdf", "attack_options", "gallery", "quality_n",
                "n_steps", "gallery_method", "independent", "shortcut_n", "label_folds", "certify")


@dataclass(frozen=True)
class RunSpec(Spec):
    """The training run (its bundle goes to OUT/model), then the audit and the report."""

    out: str = option(ref="output:", help="folder for model/, audit/ and report.html")
    run: RunConfig = option(help="the training run (every train option)")
    attacks: tuple[str, ...] | None = option(None, min_length=1,
                                             help="audit attacks (by modality, as for audit)",
                                             parse="names")
    eps: tuple[float, ...] | None = option(None, gt=0, le=1, min_length=1,
                                           help="audit budgets (by modality, as for audit)",
                                           parse="numbers")
    n: int = option(200, ge=1, help="examples to audit (at most the holdout)")
    steps: int = option(10, ge=1, help="iterations of iterative attacks")
    pdf: bool = option(False, help="also print the report to PDF (needs Chromium)")
    attack_options: dict[str,
                         Any] = option(help="the attacks' own options, KEY=VALUE or ATTACK.KEY=VALUE,...",
                                            parse="kv", default_factory=dict)
    gallery: int = option(4, ge=0, help="report: examples per gallery (0: none)")
    quality_n: int = option(8, ge=1, help="report: examples the attribution-quality metrics use")
    n_steps: int = option(32, ge=1, help="report: integrated-gradients steps")
    gallery_method: str | None = option(None, help="report: the galleries' explainer (default: the page's "
                                        "most faithful by deletion)")
    independent: bool = option(False, help="audit: attack every sample at every budget to the last step "
                               "(default: skip samples already fooled)")
    certify: bool = option(False, help="audit: also certify by randomized smoothing (images on their "
                                       "pixels, texts on their token embeddings; sigma: the training's "
                                       "--noise-train, else 0.25); an audit done earlier without it is "
                                       "redone, and the report with it")
    shortcut_n: int = option(16, ge=0, help="report: per predicted class, images or texts explained to look "
                                            "for what the model relies on (0: skip)")
    label_folds: int | None = option(None, ge=0, le=20,
                                     help="labels step: cross-fitting folds for the labels most likely wrong "
                                          "(default: 5 for a pretrained model, whose features make it "
                                          "seconds; 0, skipped, for one trained from scratch, which would "
                                          "train once per fold)")

    def __post_init__(self) -> None:
        require(self, [])
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
            options=attack_options(attacks, self.attack_options),
            independent=self.independent,
        )
        from robustness.audit import validate

        validate(cfg, modality)
        return cfg


@dataclass
class RunOutput(Result):
    """Where each step's output is, which steps ran now, and their main numbers."""

    bundle: Path
    audit: Path
    report: Path
    labels: Path | None = None
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    audit_report: dict[str, Any] = field(default_factory=dict)


def run(spec: RunSpec, events: Events | Reporter | None = None) -> RunOutput:
    """Fine-tune, audit and report into ``spec.out``; finished steps are kept."""
    from robustune.jobs.work.run import run_all

    return RunOutput(**run_all(spec, events))


JOB = Job("run", RunSpec, run,
          "The whole job: fine-tune, audit, report; a rerun resumes and skips finished steps.",
          produces={"bundle": "bundle", "audit": "audit", "report": "report"}, tracked=True,
          example={"data": "digits", "model": "cnn", "epochs": 3, "attacks": ["fgsm", "pgd"]})
