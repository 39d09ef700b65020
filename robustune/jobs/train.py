"""The ``train`` job: fine-tune a model as a run config says and write its bundle (or resume)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.run.workdir import RUN_FILE, resume_config, work_dir
from finetune.run_config import RunConfig, from_options
from plugins.events import Events, Reporter
from plugins.records import Spec
from plugins.schema import option
from robustune.jobs import Job

if TYPE_CHECKING:
    from finetune.driver import TrainResult


@dataclass(frozen=True)
class TrainSpec(Spec):
    """A run config, or the unfinished run to resume."""

    run: RunConfig = option(help="the run: data, model, adapter and their settings")
    resume: bool = option(False, help="continue the unfinished run whose out folder is run.out", cli=False,
                          service=False)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TrainSpec:
        """From flat options (CLI flags, YAML keys, a service request): ``{"data": ..., "epochs": 5}``."""
        return cls(from_options(options))

    @classmethod
    def resuming(cls, out: Path) -> TrainSpec:
        """Continue the unfinished run whose ``out`` was ``out`` (its config comes from OUT.work)."""
        return cls(resume_config(Path(out)), resume=True)

    def or_resume(self) -> TrainSpec:
        """This spec, or a resume of it when an earlier attempt left a checkpoint in its out folder."""
        out = Path(self.run.out)
        return self.resuming(out) if (work_dir(out) / RUN_FILE).is_file() else self


def run(spec: TrainSpec, events: Events | Reporter | None = None) -> TrainResult:
    """Train and write the bundle; a cancel keeps the last finished epoch for a resume."""
    from finetune.driver import run_training

    return run_training(spec.run, resume=spec.resume, events=events)


JOB = Job("train", TrainSpec, run, "Fine-tune a backbone on labeled data and write a bundle.",
          produces={"bundle": "bundle"}, resumes=True, tracked=True,
          example={"data": "digits", "model": "cnn", "epochs": 3})
