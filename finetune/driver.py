"""The run driver: every training run goes setup -> fit (the recipe) -> save (the bundle).

``setup`` checks everything and prepares the data, splits, model and inputs without writing
(``run/prepare.py``); ``fit`` runs the model's recipe with epoch checkpoints in ``OUT.work``
(``run/fit.py``); ``save`` evaluates and writes the bundle atomically (``run/finish.py``); several
processes start through a launcher (``run/launch.py``). ``run_training`` holds the output's lock
around them and keeps a stopped run resumable: what it says on a stop names the ``resume`` field,
which the command line shows as ``--resume``.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from finetune.checkpoint import find_checkpoint
from finetune.distributed import RankFailed, world
from finetune.run.finish import TrainResult, save
from finetune.run.fit import fit
from finetune.run.launch import launch
from finetune.run.prepare import prepare_run, setup
from finetune.run.workdir import work_dir
from finetune.run_config import RunConfig
from plugins.atomic import output_lock, remove_output
from plugins.errors import Interrupted, TrainingDiverged, opt
from plugins.events import Cancelled, Events, Reporter, reporter


def has_checkpoint(work: Path) -> bool:
    """Whether the work folder holds a finished epoch to resume from."""
    return find_checkpoint(work / "ckpt") is not None


def kept(out: Path) -> str:
    """What a stopped run says it kept, and how to go on."""
    return f"the last finished epoch is kept: continue with {opt('resume')} {out}"


def run_training(cfg: RunConfig, resume: bool = False, events: Events | Reporter | None = None,
                 holdout: bool = True) -> TrainResult:
    """Fine-tune as ``cfg`` says and write the bundle; resume from the work folder if asked.

    ``holdout=False`` leaves the test split untouched (model selection reads validation only).
    Ctrl-C or a cancel keeps the last finished epoch for a resume; a diverged loss writes nothing.
    """
    report = reporter(events)
    out = Path(cfg.out)
    work = work_dir(out)
    started = False  # set once this call owns the work folder

    def start() -> None:
        nonlocal started
        started = True

    # a --nnodes run's other machines write nothing (and may share the output's file system)
    with output_lock(out) if cfg.train.node_rank == 0 else nullcontext():
        try:
            if cfg.train.world_size > 1 and world() is None:
                try:
                    return launch(cfg, resume, report, holdout, start)
                except RankFailed as exc:
                    if started and has_checkpoint(work):
                        raise RankFailed(f"{exc}; {kept(out)}") from None
                    raise
            prep = setup(cfg, report, resume)
            fresh = not resume and not work.exists()  # a work folder there now is another run's
            try:
                prepare_run(cfg, resume)  # only once every check has passed
            except BaseException:  # a Ctrl-C once it wrote the folder: that folder is this run's
                started = fresh and work.exists()
                raise
            started = True
            result = save(prep, fit(prep, work, report), holdout, report, resume)
            remove_output(work)
            return result
        except (KeyboardInterrupt, Interrupted) as exc:
            what = "cancelled" if isinstance(exc, Cancelled) else "interrupted"
            kind = Cancelled if isinstance(exc, Cancelled) else Interrupted
            if started and has_checkpoint(work):
                raise kind(f"{what}; {kept(out)}") from None
            if started and not resume:
                remove_output(work)
            raise kind(f"{what} before the first epoch finished; nothing was kept") from None
        except TrainingDiverged:
            if started:
                remove_output(work)
            raise
        except Exception:
            if started and not resume and not has_checkpoint(work):
                remove_output(work)  # nothing to resume: a rerun starts clean
            raise
