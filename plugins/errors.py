"""The errors a user sees: one line naming the problem (and the field) and the fix.

Every user-facing error is a ``RobustuneError`` of one kind: ``InvalidInput`` (a bad value,
file or combination), ``NotFound`` (a path, bundle, plugin or job that is not there),
``Conflict`` (an output that exists or is in use, a job that is running) or ``Unsupported``
(something this model or modality cannot do). An error about one setting carries its
``field`` (``lr``, ``train.lr``, ``eps``). Messages refer to options with ``opt("lr")``: a Python or HTTP
caller reads ``lr``, the CLI shows ``--lr``.
"""

from __future__ import annotations

import re
from typing import Any

OPTION = re.compile(r"\[\[([A-Za-z0-9_.]+)\]\]")


def opt(name: str) -> str:
    """A reference to the option ``name`` inside a message (``lr``; ``--lr`` on the command line)."""
    return f"[[{name}]]"


def render(message: str, flags: bool = False) -> str:
    """``message`` with option references as names (``lr``) or, with ``flags``, as CLI flags (``--lr``)."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1).rsplit(".", 1)[-1]
        return "--" + name.replace("_", "-") if flags else name

    return OPTION.sub(one, message)


class RobustuneError(Exception):
    """A user-facing error. The CLI prints ``error: <message>`` and exits non-zero.

    Messages are one line: what went wrong, then what to do about it. ``field`` names the
    setting at fault, when there is one.
    """

    exit_code = 2
    kind = "invalid"  # invalid | not_found | conflict | unsupported | unreadable | interrupted

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.raw = message
        self.field = field

    def __str__(self) -> str:
        return render(self.raw)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by state, not by ``__init__``'s arguments (subclasses take other ones): an error crosses
        from a training process to the one that launched it."""
        return _rebuild, (type(self), self.raw, dict(self.__dict__))

    @property
    def message(self) -> str:
        """The message for a Python or HTTP caller (options by name)."""
        return render(self.raw)

    def cli_message(self) -> str:
        """The message for the command line (options as flags)."""
        return render(self.raw, flags=True)


def _rebuild(cls: type[RobustuneError], raw: str, state: dict[str, Any]) -> RobustuneError:
    error = cls.__new__(cls)
    Exception.__init__(error, raw)
    error.__dict__.update(state)
    return error


class InvalidInput(RobustuneError):
    """A value, file or combination of settings that cannot work."""

    kind = "invalid"


class NotFound(RobustuneError):
    """A path, bundle, plugin, dataset or job that does not exist."""

    kind = "not_found"


class Conflict(RobustuneError):
    """An output that already exists or is in use; a job in a state that forbids the request."""

    kind = "conflict"


class Unsupported(RobustuneError):
    """Something this model, modality, method or machine cannot do; options fine alone that conflict."""

    kind = "unsupported"


class Unreadable(InvalidInput):
    """A file whose content cannot be used: not the format its name says, damaged, one class."""

    kind = "unreadable"


class Interrupted(RobustuneError):
    """The work was stopped (Ctrl-C, a cancel); the message says what was kept and how to go on."""

    exit_code = 130
    kind = "interrupted"


class TrainingDiverged(InvalidInput):
    """The loss became NaN or infinite: nothing is written and the run cannot be resumed."""


def field_error(field: str, problem: str, kind: type[RobustuneError] = InvalidInput) -> RobustuneError:
    """An error about the option ``field``: ``lr must be positive, got -1`` (CLI: ``--lr must ...``)."""
    return kind(f"{opt(field)} {problem}", field=field)


def brief(exc: BaseException, limit: int = 300) -> str:
    """An exception's first non-empty line, shortened: for embedding in a one-line message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
