"""The ``audit`` job: attack a bundle at several budgets; robust accuracy, worst case, sanity flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.events import Events, Reporter
from plugins.numerics import PRECISION_HELP, PRECISIONS
from plugins.options import split_options
from plugins.records import Result, Spec
from plugins.registry import registry
from plugins.schema import option, require
from robustness.config import AuditConfig
from robustness.defaults import BATCH, default_attacks, default_eps
from robustune.jobs import Job

DEFAULT_N = 500


def attack_options(attacks: tuple[str, ...], given: dict[str, Any]) -> dict[str, Any]:
    """Each attack's declared options from ``KEY=VALUE`` / ``ATTACK.KEY=VALUE`` settings (names checked)."""
    for name in attacks:
        registry.entry("attack", name)
    return split_options("attack", attacks, given, "attack_options")


@dataclass(frozen=True)
class AuditSpec(Spec):
    """Which bundle, on which data, with which attacks at which budgets."""

    bundle: str = option(ref="model", help="bundle folder (an image or text model)", argument=True)
    data: str = option(ref="dataset",
                       help="labeled data; its holdout is used when it is the bundle's training source")
    attacks: tuple[str, ...] | None = option(
        None, min_length=1, parse="names",
        help="comma list of attack plugins (images: fgsm,pgd; texts: embedding-pgd,word-level)")
    eps: tuple[float, ...] | None = option(
        None, gt=0, le=1, min_length=1, parse="numbers",
        help="comma list of budgets in (0, 1]: pixel units for images (1/255,2/255,4/255,8/255); for "
             "texts the relative embedding norm or fraction of words (0.02,0.05,0.1,0.2)")
    n: int | None = option(None, ge=1,
                           help=f"examples to attack (a fixed shuffle of the split; up to {DEFAULT_N})")
    steps: int = option(10, ge=1, help="iterations of iterative attacks")
    n_queries: int = option(1000, ge=1, help="queries of the square attack")
    batch_size: int | None = option(None, ge=1,
                                    help=f"examples per attack batch (default: {BATCH} on the CPU; on a GPU "
                                         "the largest that fits its free memory)")
    seed: int = option(0, ge=0, le=2**32 - 1, help="the audit's shuffle and the attacks' randomness")
    split: str = option("auto", choices=("auto", "holdout", "all"),
                        help="auto (the holdout when the data is the bundle's training source), "
                             "holdout or all")
    out: str | None = option(None, ref="output:audit", help="audit folder (default: BUNDLE/audit)")
    overwrite: bool = option(False, service=False,
                             help="replace an existing audit folder that robustune wrote")
    attack_options: dict[str,
                         Any] = option(help="the attacks' own options, KEY=VALUE or ATTACK.KEY=VALUE,...",
                                            parse="kv", default_factory=dict)
    text_column: str = option("text", min_length=1, help="CSV: the text column")
    label_column: str = option("label", min_length=1, help="CSV: the label column")
    skip_corrupt: bool = option(False, help="skip unreadable images (their count is reported)")
    default_n: int = option(DEFAULT_N, ge=1, help="examples when n is not given", cli=False)
    independent: bool = option(False, help="attack every sample at every budget to the last step (as "
                               "published numbers are made; default: skip samples already fooled)")
    precision: str = option("auto", choices=PRECISIONS,
                            help=PRECISION_HELP + "; auto also requires the robust accuracy "
                                 "within 1 point of fp32 on a sample")
    device: str = option("auto", choices=("auto", "cpu", "cuda"),
                         help="auto (a GPU when present), cpu or cuda")
    certify: bool = option(False, help="also certify by randomized smoothing (images): the certified "
                                       "accuracy per L2 radius (a lower bound) under PGD-L2 against the "
                                       "same smoothed classifier (an upper bound)")
    sigma: float | None = option(None, gt=0, le=4,
                                 help="certify: the noise's standard deviation in pixel units (default: the "
                                      "sigma the model was trained with by --noise-train, else 0.25)")
    certify_n0: int = option(100, ge=1, help="certify: noisy copies that pick each input's class")
    certify_n: int = option(1000, ge=10, help="certify: noisy copies that bound its probability")
    certify_alpha: float = option(0.001, gt=0, lt=0.5,
                                  help="certify: the chance a certificate is wrong (Clopper-Pearson bound)")

    def __post_init__(self) -> None:
        require(self, [])

    @property
    def target(self) -> Path:
        """Where the audit is written."""
        return Path(self.out) if self.out else Path(self.bundle) / "audit"

    def config(self, modality: str) -> AuditConfig:
        """The audit settings, with the modality's default attacks and budgets where none were given."""
        attacks = self.attacks or default_attacks(modality)
        return AuditConfig(attacks=attacks, eps=self.eps or default_eps(modality), steps=self.steps,
                           n_queries=self.n_queries, batch_size=self.batch_size or BATCH, seed=self.seed,
                           options=attack_options(attacks, self.attack_options), independent=self.independent)


@dataclass
class AuditOutput(Result):
    """The audit folder, its report (audit.json) and the files in it."""

    out: Path
    report: dict = field(default_factory=dict)  # type: ignore[type-arg]
    files: list[Path] = field(default_factory=list)


def run(spec: AuditSpec, events: Events | Reporter | None = None) -> AuditOutput:
    """Audit and write the folder atomically; a cancel leaves no audit.json behind."""
    from robustune.jobs.work.audit import audit

    return AuditOutput(**audit(spec, events))


JOB = Job("audit", AuditSpec, run,
          "Attack a bundle: robust accuracy per attack and epsilon, worst case, sanity flags, curve.",
          produces={"audit": "out"}, tracked=True,
          example={"bundle": "cnn-digits", "data": "digits", "attacks": ["fgsm", "pgd"],
                   "eps": [0.0078, 0.0157]})
