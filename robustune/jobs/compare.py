"""The ``compare`` job: train every candidate on one split, rank them on validation, score the winner
on the holdout once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.selection.candidates import parse_candidates
from plugins.events import Events, Reporter
from plugins.records import Spec
from plugins.schema import option, require
from robustune.jobs import Job
from robustune.jobs.selection import SELECT_OPTIONS, check_options

if TYPE_CHECKING:
    from finetune.selection.compare import CompareResult


@dataclass(frozen=True)
class CompareSpec(Spec):
    """The candidates and the train options they share (data, split, epochs, ...)."""

    candidates: str = option(ref="architecture:list", help="comma list of MODEL[:ADAPTER], e.g. "
                                  "efficientnet_lite0:linear-probe,cnn,lstm")
    options: dict[str, Any] = option(help="train options every candidate shares (data, epochs, ...)",
                                     ref="options:train", only=SELECT_OPTIONS, cli=False,
                                     default_factory=dict)
    out: str = option("compare-out", ref="output:", help="folder for one bundle per candidate, compare.json "
                                                          "and the plot")
    overwrite: bool = option(False, service=False, help="replace an earlier compare.json in out")

    def __post_init__(self) -> None:
        parse_candidates(self.candidates)  # every name checked before any data is read
        check_options(self.options)
        require(self, [])


def run(spec: CompareSpec, events: Events | Reporter | None = None) -> CompareResult:
    """Train, rank and evaluate the winner."""
    from finetune.selection.compare import run_compare

    return run_compare(dict(spec.options), parse_candidates(spec.candidates), Path(spec.out), spec.overwrite,
                       events)


JOB = Job("compare", CompareSpec, run,
          "Train every candidate on the same split, rank them on validation, score the winner on the "
          "holdout.",
          produces={"bundle": "winner"},
          example={"candidates": "cnn,lstm", "options": {"data": "digits", "epochs": 2}})
