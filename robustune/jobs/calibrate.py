"""The ``calibrate`` job: fit a bundle's trust record (calibration, prediction sets, unfamiliar inputs) on
labeled data, for bundles written before trainings fitted it, imported ones, or to refit it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.events import Events, Reporter, reporter
from plugins.records import Result, Spec
from plugins.schema import option, require
from robustune.jobs import Job


@dataclass(frozen=True)
class CalibrateSpec(Spec):
    """Which bundle, on which labeled data, for which coverage."""

    bundle: str = option(ref="model", help="bundle folder", argument=True)
    data: str = option(ref="dataset", help="labeled data: the bundle's own validation split when it is its "
                                           "training source, else all of it (data the model never saw)")
    coverage: float = option(0.9, gt=0, lt=1,
                             help="prediction sets: the chance each set holds the true label")
    score: str = option("aps", choices=("aps", "lac", "raps"), help="conformity score of the sets")
    unfamiliar: str = option("energy", choices=("energy", "mahalanobis"),
                             help="unfamiliar-input score: energy of the logits, or Mahalanobis distance of "
                                  "the penultimate features (fitted on half the examples, threshold on the "
                                  "other half)")
    text_column: str = option("text", min_length=1, help="CSV: the text column")
    label_column: str = option("label", min_length=1, help="CSV: the label column")
    skip_corrupt: bool = option(False, help="skip unreadable images (their count is reported)")
    device: str = option("auto", choices=("auto", "cpu", "cuda"),
                         help="auto (a GPU when present), cpu or cuda")

    def __post_init__(self) -> None:
        require(self, [])


@dataclass
class CalibrateOutput(Result):
    """The bundle, which examples the record was fitted on, and the record."""

    bundle: Path
    examples: str
    trust: dict[str, Any] = field(default_factory=dict)


def run(spec: CalibrateSpec, events: Events | Reporter | None = None) -> CalibrateOutput:
    """Fit the record and write it into the bundle's robustune.json."""
    from finetune.data.config import DataOptions
    from finetune.trust import calibrate_bundle
    from robustness.uncertainty.record import TrustConfig

    report = reporter(events)
    report.progress("calibrating", 0, 1)
    options = DataOptions(text_column=spec.text_column, label_column=spec.label_column,
                          skip_corrupt=spec.skip_corrupt)
    used, record = calibrate_bundle(Path(spec.bundle), spec.data, options,
                                    TrustConfig(coverage=spec.coverage, score=spec.score,
                                                                unfamiliar=spec.unfamiliar), spec.device)
    report.progress("calibrating", 1, 1)
    return CalibrateOutput(Path(spec.bundle), used, record)


JOB = Job("calibrate", CalibrateSpec, run,
          "Fit a bundle's calibration, prediction sets and unfamiliar-input threshold on labeled data.",
          service=False)
