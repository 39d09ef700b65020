"""The one exception type a user sees: a single line naming the problem and the fix."""

from __future__ import annotations


class RobustuneError(Exception):
    """A user-facing error. The CLI prints ``error: <message>`` and exits non-zero.

    Messages are one line: what went wrong, then what to do about it.
    """

    exit_code = 2
