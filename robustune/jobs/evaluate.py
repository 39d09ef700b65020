"""The ``evaluate`` job: a bundle's metrics on labeled data (its own holdout when it was trained on it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.data.config import DataOptions
from plugins.events import Events, Reporter, reporter
from plugins.numerics import PRECISION_HELP, PRECISIONS
from plugins.records import Result, Spec
from plugins.schema import option
from robustune.jobs import Job


@dataclass(frozen=True)
class EvaluateSpec(Spec):
    """Which bundle on which data."""

    bundle: str = option(ref="model", help="bundle folder", argument=True)
    data: str = option(ref="dataset", help="labeled data, as for train")
    split: str = option("auto", choices=("auto", "holdout", "all"),
                        help="auto (the bundle's holdout when the data is its training source), "
                             "holdout or all")
    text_column: str = option("text", min_length=1, help="CSV: the text column")
    label_column: str = option("label", min_length=1, help="CSV: the label column")
    skip_corrupt: bool = option(False, help="skip unreadable images (their count is reported)")
    precision: str = option("auto", choices=PRECISIONS, help=PRECISION_HELP)
    device: str = option("auto", choices=("auto", "cpu", "cuda"),
                         help="auto (a GPU when present), cpu or cuda")
    unfamiliar_data: str | None = option(None, ref="dataset",
                                         help="another source: how well the unfamiliar-input score tells "
                                              "it from DATA (AUROC, FPR at 95% TPR)")


@dataclass
class EvaluateOutput(Result):
    """Which split was used and the metrics (accuracy, macro-F1, per class, confusion matrix)."""

    bundle: Path
    split: str
    metrics: dict[str, Any] = field(default_factory=dict)
    numerics: dict[str, Any] = field(default_factory=dict)  # what the model computed in
    batch: dict[str, Any] = field(default_factory=dict)  # the inference batch size and why


def run(spec: EvaluateSpec, events: Events | Reporter | None = None) -> EvaluateOutput:
    """Evaluate the bundle."""
    from finetune.evaluation import evaluate_bundle
    from plugins.bundle import load_bundle

    report = reporter(events)
    report.progress("evaluating", 0)
    options = DataOptions(text_column=spec.text_column, label_column=spec.label_column,
                          skip_corrupt=spec.skip_corrupt)
    used, metrics, choice, batch = evaluate_bundle(load_bundle(Path(spec.bundle)), spec.data, spec.split,
                                                   options, spec.precision, report, spec.device,
                                                   spec.unfamiliar_data)
    report.progress("evaluating", 1, 1)
    return EvaluateOutput(Path(spec.bundle), used, metrics, choice.to_json(), batch.to_json())


JOB = Job("evaluate", EvaluateSpec, run, "Evaluate a bundle on labeled data.",
          example={"bundle": "cnn-digits", "data": "digits"})
