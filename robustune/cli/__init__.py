"""Floor 4b: the command line, a thin client of the jobs (``robustune/jobs``).

One command per job kind, generated from its declaration (``commands.py``): options from the spec's
fields, progress bars from its events, its result shown by the kind's view (``results.py``). The
commands are built when a command line needs them (``main``): ``robustune train ...`` builds train's
alone. ``main`` maps errors to one line and an exit code.
"""

from robustune.cli import misc  # noqa: F401  (registers the plugins command)
from robustune.cli.app import app
from robustune.cli.main import full_cli, main

__all__ = ["app", "full_cli", "main"]
