"""The ``recommend`` job: profile the data, score model + adapter choices for it, time each with a few
real training steps on this machine, and rank them (within the budget first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plugins.duration import DURATION, DURATION_SAYS, parse_duration
from plugins.events import Events, Reporter, reporter
from plugins.records import Result, Spec
from plugins.schema import option, require
from robustune.jobs import Job
from robustune.jobs.selection import SELECT_OPTIONS, check_options

if TYPE_CHECKING:
    from finetune.selection.recommend import Profile, Suggestion


def parse_budget(text: str) -> float:
    """``"90s"``, ``"20m"``, ``"1.5h"`` or plain seconds -> seconds."""
    return parse_duration(text, "budget")


@dataclass(frozen=True)
class RecommendSpec(Spec):
    """The data (and train options) to recommend for, the time budget, the need for interpretability."""

    options: dict[str, Any] = option(help="train options: data, epochs, per class, ...", ref="options:train",
                                     only=SELECT_OPTIONS, cli=False, default_factory=dict)
    budget: str | None = option(None, pattern=DURATION, says=DURATION_SAYS,
                                help="training time you can spend on this machine: 90s, 20m, 1h")
    interpretable: bool = option(False, help="prefer models whose explanations are easiest to trust")
    probe: bool = option(True, help="time each suggestion with a few real training steps")

    def __post_init__(self) -> None:
        check_options(self.options)
        require(self, [])

    @property
    def budget_s(self) -> float | None:
        """The budget in seconds."""
        return parse_budget(self.budget) if self.budget else None


@dataclass
class RecommendOutput(Result):
    """The data's profile and the ranked suggestions."""

    profile: Profile
    suggestions: list[Suggestion] = field(default_factory=list)
    budget_s: float | None = None


def run(spec: RecommendSpec, events: Events | Reporter | None = None) -> RecommendOutput:
    """Profile, score and time."""
    from finetune.selection.recommend import recommend

    report = reporter(events)
    report.progress("profiling the data and timing each suggestion", 0)
    prof, rows = recommend(dict(spec.options), spec.budget_s, spec.interpretable, spec.probe)
    report.progress("profiling the data and timing each suggestion", 1, 1)
    return RecommendOutput(prof, rows, spec.budget_s)


JOB = Job("recommend", RecommendSpec, run, "Ranked model + adapter suggestions for this data, with reasons "
          "and measured time estimates.",
          example={"options": {"data": "digits"}, "budget": "10m"})
