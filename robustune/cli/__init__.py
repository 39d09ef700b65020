"""Floor 4b: the command line, a thin client of the jobs (``robustune/jobs``).

Each command module builds a job's spec from options generated out of the spec's fields, runs the
job with its events rendered as progress bars, and prints the result. ``main`` maps errors to one
line and an exit code.
"""

from robustune.cli import audit, bundles, explain, misc, training  # noqa: F401  (register the commands)
from robustune.cli.app import app
from robustune.cli.main import main

__all__ = ["app", "main"]
