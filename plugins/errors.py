"""The one exception type a user sees: a single line naming the problem and the fix."""

from __future__ import annotations


class RobustuneError(Exception):
    """A user-facing error. The CLI prints ``error: <message>`` and exits non-zero.

    Messages are one line: what went wrong, then what to do about it.
    """

    exit_code = 2


class Interrupted(RobustuneError):
    """The user stopped the work (Ctrl-C); the message says what was kept and how to go on."""

    exit_code = 130


class TrainingDiverged(RobustuneError):
    """The loss became NaN or infinite: nothing is written and the run cannot be resumed."""


def brief(exc: BaseException, limit: int = 300) -> str:
    """An exception's first non-empty line, shortened: for embedding in a one-line message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
