"""One command per job kind, generated from the job's declaration: the spec's fields become options,
the job's ``from_options`` builds the spec, its events become progress bars, its result is shown by
the kind's view (``results.py``) or, for a kind without one, as its files and figures.

Every job command also takes ``--config FILE`` (YAML/JSON of the same options; flags win), ``--quiet``
and ``--json``; a job that resumes from a folder takes ``--resume DIR``; a tracked one ``--track``.
Nothing heavy is imported to build the commands: a job's work loads when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from robustune.cli.options import Param, add_command, cli_param, config_values, spec_params
from robustune.jobs import Job, job, jobs
from robustune.jobs.builtins import JOB_KINDS as BUILTIN_KINDS
from robustune.jobs.fields import job_fields
from robustune.jobs.tracking import TRACK_HELP

CONFIG = cli_param("config", Path, "YAML/JSON file of the same options (flags given here win)")
QUIET = cli_param("quiet", bool, "no progress bars or epoch lines")
JSON = cli_param("json", bool, "print the result as JSON")
TRACK = cli_param("track", str, TRACK_HELP)
RESUME = cli_param("resume", Path, "resume the unfinished run whose out folder was DIR")
SWITCHES = ("config", "quiet", "json", "track", "resume")
QUIET_KINDS = ("predict", "import", "export")  # short jobs: their result alone, no progress or log lines
OTHER_COMMANDS = ("plugins", "serve", "token", "remote")  # robustune's commands that are not job kinds


def job_params(job: Job) -> list[Param]:
    """The command's parameters: the spec's options, then the switches this job takes."""
    params = spec_params(job_fields(job.kind, "cli"))
    params.append(CONFIG)
    if hasattr(job.spec, "resuming"):
        params.append(RESUME)
    if job.tracked:
        params.append(TRACK)
    return [*params, QUIET, JSON]


def build_spec(job: Job, params: list[Param], values: dict[str, Any]) -> Any:
    """The job's spec from the given values (``--resume DIR``, else the config file's options under the
    flags)."""
    if values.get("resume") is not None:
        return job.spec.resuming(Path(values["resume"]))
    given = {k: v for k, v in values.items() if k not in SWITCHES}
    return job.spec.from_options({**config_values(values.get("config"), params), **given})


def handler(job: Job, params: list[Param]) -> Any:
    """What the command does with its values: build the spec, run the job, show the result."""

    def handle(values: dict[str, Any]) -> None:
        from robustune.cli.render import run_job
        from robustune.cli.results import show

        spec = build_spec(job, params, values)
        run = job.run
        if values.get("track"):
            from robustune.jobs.tracking import tracked

            run = tracked(job.kind, run, values["track"])
        as_json = bool(values.get("json"))
        quiet = bool(values.get("quiet")) or as_json or job.kind in QUIET_KINDS
        result = run_job(run, spec, quiet)
        show(job, spec, result, as_json)

    return handle


REGISTERED: dict[int, set[str]] = {}  # app -> the job kinds it has commands for


def register(app: typer.Typer, kinds: list[str] | None = None) -> None:
    """Add one command per job kind (``kinds``, else every one: built-ins and plugins') to ``app``, once."""
    done = REGISTERED.setdefault(id(app), set())
    for declared in [job(k) for k in kinds] if kinds is not None else jobs():
        if declared.kind not in done:
            params = job_params(declared)
            add_command(app, declared.kind, declared.help, params, handler(declared, params))
            done.add(declared.kind)


def needed(argv: list[str]) -> list[str] | None:
    """The job commands a command line needs: a built-in job's own only (its module alone is imported,
    the plugins are not even looked up), none for another built-in command, every one otherwise (the
    help lists them all; a plugin's kind, or a typo that deserves a suggestion)."""
    first = argv[0] if argv else ""
    if first in BUILTIN_KINDS:
        return [first]
    return [] if first in OTHER_COMMANDS else None
