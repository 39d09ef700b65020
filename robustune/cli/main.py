"""The CLI's entry point: the CLI app run the way ``robustune.console`` runs every robustune command.

Exit codes: 0 success; 2 bad input and usage errors; 130 interrupted; 1 an internal error (one
line naming it; ``ROBUSTUNE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

from robustune.cli.app import app
from robustune.console import run


def main(argv: list[str] | None = None) -> None:
    """Entry point of the CLI's commands (see ``robustune.console.run``)."""
    run(app, argv)
