"""The ``predict`` job: top-k labels with probabilities for image files or texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugins.events import Events, Reporter
from plugins.numerics import PRECISION_HELP, PRECISIONS
from plugins.records import Result, Spec
from plugins.schema import option, require
from robustune.jobs import Job


@dataclass(frozen=True)
class PredictSpec(Spec):
    """A bundle and the inputs to classify."""

    bundle: str = option(ref="model", help="bundle folder", argument=True)
    files: tuple[str, ...] = option(ref="upload", help="image files", argument=True, default_factory=tuple)
    texts: tuple[str, ...] = option(help="text to classify (repeatable)", flag="text", default_factory=tuple)
    top_k: int = option(3, ge=1, help="labels to show per input")
    coverage: float | None = option(None, gt=0, lt=1,
                                    help="prediction sets: the chance each set holds the true label "
                                         "(default: the bundle's, 0.9)")
    precision: str = option("auto", choices=PRECISIONS, help=PRECISION_HELP)
    device: str = option("auto", choices=("auto", "cpu", "cuda"),
                         help="auto (a GPU when present), cpu or cuda")
    certify: bool = option(False, help="images: also the randomized-smoothing label and its certified L2 "
                                       "radius (or an abstention) per input")
    sigma: float | None = option(None, gt=0, le=4,
                                 help="certify: the noise's standard deviation (default: the sigma the model "
                                      "was trained with by --noise-train, else 0.25)")
    certify_n: int = option(1000, ge=10, help="certify: noisy copies that bound each label's probability")
    certify_alpha: float = option(0.001, gt=0, lt=0.5,
                                  help="certify: the chance a certificate is wrong")

    def __post_init__(self) -> None:
        require(self, [])


@dataclass
class PredictOutput(Result):
    """Per input: the top labels with calibrated probabilities (most likely first) and the raw ones, the
    prediction set, the unfamiliar-input score and flag."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    numerics: dict[str, Any] = field(default_factory=dict)  # what the model computed in
    batch: dict[str, Any] = field(default_factory=dict)  # the inference batch size and why


def run(spec: PredictSpec, events: Events | Reporter | None = None) -> PredictOutput:
    """Classify the files or texts."""
    from robustune.jobs.work.predict import predict

    return PredictOutput(**predict(spec, events))


JOB = Job("predict", PredictSpec, run, "Top-k labels with probabilities for image files or texts.",
          service=False)
