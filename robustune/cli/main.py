"""The CLI's entry point: the CLI app run the way ``robustune.console`` runs every robustune command.

Exit codes: 0 success; 2 bad input and usage errors; 130 interrupted; 1 an internal error (one
line naming it; ``ROBUSTUNE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import sys
from typing import Any

from robustune.cli.app import app
from robustune.cli.commands import needed, register
from robustune.console import run


def full_cli() -> Any:
    """The typer app with every command (the docs and the tests list them all)."""
    register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Entry point of the CLI's commands (see ``robustune.console.run``); builds the commands
    ``argv`` needs."""
    args = list(sys.argv[1:] if argv is None else argv)
    register(app, needed(args))
    run(app, args)
