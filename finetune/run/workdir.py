"""Where an unfinished run keeps its state: ``OUT.work`` with the run config and epoch checkpoints.

Declarations and small file reads only (no torch): a job spec resumes a run from here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from finetune.run_config import RunConfig
from plugins.errors import NotFound, opt
from plugins.jsonio import read_json

RUN_FILE = "run.json"

__all__ = ["RUN_FILE", "resume_config", "work_dir"]


def work_dir(out: Path) -> Path:
    """Where a run keeps its config and epoch checkpoints until the bundle is written."""
    return out.with_name(out.name + ".work")



def resume_config(path: Path) -> RunConfig:
    """The config of an unfinished run, from ``OUT.work/run.json`` (``path`` is OUT or OUT.work)."""
    out = path.with_name(path.name.removesuffix(".work")) if path.name.endswith(".work") else path
    run_file = work_dir(out) / RUN_FILE
    if not run_file.is_file():
        raise NotFound(
            f"nothing to resume at {out}: no {work_dir(out).name}/{RUN_FILE}; start the run again "
            f"without {opt('resume')}"
        )
    fix = f"start over with {opt('overwrite')} (or delete {work_dir(out)})"
    cfg = RunConfig.from_json(read_json(run_file, fix), str(run_file), fix)
    return replace(cfg, out=str(out))
