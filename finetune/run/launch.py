"""Training in several processes (``nproc`` > 1): the launcher that starts the ranks, and the code every
rank runs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import cast

import torch

from finetune.distributed import barrier, is_main, share_result
from finetune.ray_init import EXECUTOR_ENV
from finetune.run.finish import TrainResult, save
from finetune.run.fit import fit
from finetune.run.prepare import prepare_run, setup
from finetune.run.workdir import work_dir
from finetune.run_config import RunConfig
from plugins.atomic import remove_output
from plugins.events import Events, Reporter, reporter
from plugins.registry import registry


def train_rank(cfg: RunConfig, resume: bool, events: Events | Reporter | None, holdout: bool,
               device: torch.device, started: Callable[[], None]) -> TrainResult:
    """One rank of a data-parallel run, inside its process group: rank 0 prepares the work folder
    (then calls ``started``), writes the checkpoints and the bundle; every rank returns rank 0's result."""
    report = reporter(events)
    prep = setup(cfg, report, resume, device)
    if is_main():
        prepare_run(cfg, resume)
        started()
    barrier()  # the work folder exists before any rank looks for a checkpoint in it
    outcome = fit(prep, work_dir(Path(cfg.out)), report)
    result = None
    if is_main():
        result = save(prep, outcome, holdout, report, resume)
        remove_output(work_dir(Path(cfg.out)))
    return cast(TrainResult, share_result(result))


def launch(cfg: RunConfig, resume: bool, report: Reporter, holdout: bool,
           started: Callable[[], None]) -> TrainResult:
    """Start the ranks of a run with ``nproc`` (and ``nnodes``) through its launcher."""
    result: TrainResult = registry.get("launcher", launcher_name(cfg.train.launcher)).launch(
        cfg, resume, report, holdout, started)
    return result


def launcher_name(asked: str) -> str:
    """The launcher ``asked`` names; ``auto``: ray in a job of the service's Ray executor (which says so
    in ``ROBUSTUNE_EXECUTOR``), else torch."""
    if asked != "auto":
        return asked
    return "ray" if os.environ.get(EXECUTOR_ENV) == "ray" else "torch"
