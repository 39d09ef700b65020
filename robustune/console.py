"""Running a typer app as robustune does: one line per error, typer's hint for usage errors, exit codes.

Exit codes: 0 success; 2 bad input and usage errors; 130 interrupted; 1 an internal error (one
line naming it; ``ROBUSTUNE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from plugins.errors import RobustuneError, brief


def _usage_errors() -> tuple[type[BaseException], ...]:
    """typer's exceptions (0.29 vendors click) and click's own (older typer), by their public names."""
    kinds: list[type[BaseException]] = [typer.TyperException]
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer without click
        pass
    return tuple(kinds)


def _aborts() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [typer.Abort, KeyboardInterrupt, EOFError]
    try:
        import click

        kinds.append(click.exceptions.Abort)
    except ImportError:  # pragma: no cover
        pass
    return tuple(kinds)


def _fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)  # always one line
    if hint:
        print(hint, file=sys.stderr)
    sys.exit(code)


def _usage(exc: BaseException) -> NoReturn:
    """One line naming the problem, then typer's usage hint (``Try 'robustune X --help'``); a command
    group called bare prints its help (on stdout, not as an error)."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        print(getattr(exc, "format_message", lambda: str(exc))())
        sys.exit(2)
    message = " ".join(str(getattr(exc, "format_message", lambda: str(exc))()).split())
    ctx = getattr(exc, "ctx", None)
    hint = None
    if ctx is not None:
        hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help."
    code = getattr(exc, "exit_code", 2)
    code = code if isinstance(code, int) and code else 2
    if not message:  # a command group called bare: typer has printed its help
        sys.exit(code)
    _fail(message, code, hint)


def run(app: typer.Typer, argv: list[str] | None = None) -> None:
    """Run ``app``: user errors are one line on stderr and a non-zero exit; Ctrl-C exits 130.

    Usage errors exit 2 with typer's usage hint; a bug prints one line too (set ROBUSTUNE_DEBUG=1
    for its traceback).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args or ["--help"], prog_name="robustune", standalone_mode=False)
    except RobustuneError as exc:
        _fail(exc.cli_message(), exc.exit_code)
    except typer.Exit as exc:
        code = exc.exit_code
    except _aborts():
        _fail("interrupted", 130)
    except _usage_errors() as exc:
        _usage(exc)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("ROBUSTUNE_DEBUG"):
            raise
        first = brief(exc)
        _fail(f"internal error ({type(exc).__name__}: {first}); please report it (set ROBUSTUNE_DEBUG=1 "
              "to see the traceback)", 1)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == 130:
            _fail("interrupted", 130)
        sys.exit(code)
