"""The ``robustune`` console script: the CLI's commands plus the service's (serve, token, remote).

The CLI and the service never import each other; this module is the one place that joins them. It
imports nothing but the standard library before it is called, so Ctrl-C at any moment, from the
first millisecond, ends in one line and exit code 130: an interrupt while the commands are still
being built is caught here, one during a command by ``robustune.console.run``.

One CPython detail needs care: a KeyboardInterrupt that ended inside code run from a string
(``PyRun_String``: dataclass or typing helpers, for example) leaves the interpreter marked as killed
by SIGINT even after it was handled, so the process would die of SIGINT instead of exiting 130. The
interrupted path therefore exits with ``os._exit(130)`` once the streams are flushed. A Ctrl-C that
lands inside an import waits for the import to end (``robustune.interrupts``): a half-imported numpy or
torch breaks later or aborts the process.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any, NoReturn

INTERRUPTED = 130


def full_app(argv: list[str] | None = None) -> Any:
    """The CLI's and the service's commands: every one, or those ``argv`` needs (a job command builds
    its own alone)."""
    from robustune.cli import app
    from robustune.cli.commands import needed, register
    from robustune.service.commands import register as register_service

    register(app, needed(argv) if argv is not None else None)
    register_service(app)
    return app


def _exit_interrupted() -> NoReturn:
    """Exit 130 without dying of SIGINT: the exit handlers (Ray's shutdown, temporary files) run first."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(INTERRUPTED)


def _interrupted() -> NoReturn:
    print("error: interrupted", file=sys.stderr)
    _exit_interrupted()


def main(argv: list[str] | None = None) -> None:
    """Run the command line (see ``robustune.console.run`` for exit codes)."""
    from robustune.interrupts import defer_during_imports

    defer_during_imports()  # a Ctrl-C that lands inside an import is raised once it has finished
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from robustune.console import run

        app = full_app(args)
    except KeyboardInterrupt:
        _interrupted()
    try:
        run(app, args)
    except KeyboardInterrupt:  # between the command's end and the exit
        _interrupted()
    except SystemExit as exc:
        if exc.code == INTERRUPTED:
            _exit_interrupted()
        raise
