"""The ``tune`` job: Optuna over a model's learning rate, weight decay, epochs and sizes on validation,
with pruning; the best is retrained and scored on the holdout once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.selection.candidates import check_model
from plugins.events import Events, Reporter
from plugins.records import Spec
from plugins.schema import option, require
from robustune.jobs import Job
from robustune.jobs.selection import SELECT_OPTIONS, check_options

if TYPE_CHECKING:
    from finetune.selection.tune import TuneResult


@dataclass(frozen=True)
class TuneSpec(Spec):
    """The model to tune, the fixed train options, and how long to search."""

    model: str = option(ref="architecture", help="model to tune (a backbone or from-scratch plugin)")
    options: dict[str, Any] = option(help="fixed train options (data, batch size, ...)", ref="options:train",
                                     only=(*SELECT_OPTIONS, "adapter"), cli=False, default_factory=dict)
    trials: int = option(10, ge=1, help="Optuna trials")
    max_epochs: int = option(10, ge=1, help="the epoch count is searched up to this")
    out: str = option("tune-out", ref="output:", help="folder for the best bundle, tune.json and the plot")
    seed: int = option(0, ge=0, le=2**32 - 1, help="split, training and sampler seed")
    overwrite: bool = option(False, service=False, help="replace an earlier tune.json in out")

    def __post_init__(self) -> None:
        require(self, [])
        check_model(self.model, "model")
        check_options(self.options)


def run(spec: TuneSpec, events: Events | Reporter | None = None) -> TuneResult:
    """Search, retrain the best, evaluate it once on the holdout."""
    from finetune.selection.tune import run_tune

    return run_tune(dict(spec.options), spec.model, spec.trials, Path(spec.out), spec.max_epochs, spec.seed,
                    spec.overwrite, events)


JOB = Job("tune", TuneSpec, run,
          "Search learning rate, weight decay, epochs and model sizes (Optuna, pruning); retrain the best.",
          produces={"bundle": "bundle"}, tracked=True,
          example={"model": "cnn", "trials": 4, "options": {"data": "digits"}})
