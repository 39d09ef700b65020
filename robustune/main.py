"""The ``robustune`` console script: the CLI's commands plus the service's (serve, token, remote).

The CLI and the service never import each other; this module is the one place that joins them.
``remote`` and ``token`` start without the CLI, whose options are built from the job specs (which
import PyTorch): a script or CI pipeline calling a server waits a fraction of a second, not seconds.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

from robustune.console import run

CLIENT_COMMANDS = ("remote", "token")


@cache
def full_app() -> Any:
    """Every command: the CLI's and the service's."""
    from robustune.cli import app
    from robustune.service.commands import register

    register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the command line (see ``robustune.console.run`` for exit codes)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in CLIENT_COMMANDS:
        from robustune.service.commands import client_app

        run(client_app(), args)
    else:
        run(full_app(), args)
