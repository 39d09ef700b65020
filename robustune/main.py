"""The ``robustune`` console script: the CLI's commands plus the service's (serve, token, remote).

The CLI and the service never import each other; this module is the one place that joins them.
"""

from __future__ import annotations

from robustune.cli import app
from robustune.cli import main as cli_main
from robustune.service.commands import register

register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the command line (see ``robustune.cli.main`` for exit codes)."""
    cli_main(argv)
