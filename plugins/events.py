"""Events: how long work reports progress, log lines and metrics, and learns it should stop.

Library code never prints: a job, the trainer or an audit emits events to an ``Events`` sink
(the CLI renders them with rich, the service stores them, tests collect them) and calls
``check()`` between batches and epochs; when the sink says the work is cancelled, ``check()``
raises ``Cancelled`` and the work stops cleanly, keeping what it saved (never a half-written
output).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from plugins.errors import Interrupted

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` (None: unknown) in ``stage``, with a short message; ``overall``: the share of
    the whole work done, when the work knows it (a training: epochs done of all)."""

    stage: str
    step: int
    total: int | None = None
    message: str = ""
    overall: float | None = None


@dataclass(frozen=True)
class Log:
    """A line for a person."""

    message: str
    level: str = "info"


@dataclass(frozen=True)
class Metric:
    """Named numbers: an epoch's losses and accuracies, an attack's robust accuracy."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    step: int | None = None


Event = Progress | Log | Metric


class Cancelled(Interrupted):
    """The work was cancelled from outside (a job's cancel, Ctrl-C in the CLI)."""


class Events(Protocol):
    """A sink for events and the source of the cancellation signal."""

    def emit(self, event: Event) -> None:
        """Receive one event."""
        ...

    def cancelled(self) -> bool:
        """Whether the work should stop now."""
        ...


class NullEvents:
    """Drops every event; never cancelled."""

    def emit(self, event: Event) -> None:
        """Ignore ``event``."""

    def cancelled(self) -> bool:
        """Never."""
        return False


class Muted:
    """Drops every event but passes on ``inner``'s cancel: side work (a check) stays stoppable and silent."""

    def __init__(self, inner: Events) -> None:
        self.inner = inner

    def emit(self, event: Event) -> None:
        """Ignore ``event``."""

    def cancelled(self) -> bool:
        """Whatever ``inner`` says."""
        return self.inner.cancelled()


class Part:
    """Passes events on, with ``overall`` rescaled to part ``index`` of ``count`` of the outer work."""

    def __init__(self, inner: Events, index: int, count: int) -> None:
        self.inner, self.index, self.count = inner, index, max(1, count)

    def emit(self, event: Event) -> None:
        """Pass ``event`` on (its share of the whole work, if it has one)."""
        if isinstance(event, Progress) and event.overall is not None:
            event = replace(event, overall=(self.index + min(max(event.overall, 0.0), 1.0)) / self.count)
        self.inner.emit(event)

    def cancelled(self) -> bool:
        """Whatever ``inner`` says."""
        return self.inner.cancelled()


class ListEvents:
    """Keeps every event in ``events``; ``cancel_after`` (a number of checks) cancels on cue (tests)."""

    def __init__(self, cancel_when: Any = None) -> None:
        self.events: list[Event] = []
        self.cancel_when = cancel_when  # a callable of the event list: True = cancel now

    def emit(self, event: Event) -> None:
        """Keep ``event``."""
        self.events.append(event)

    def cancelled(self) -> bool:
        """What ``cancel_when`` says about the events so far."""
        return bool(self.cancel_when is not None and self.cancel_when(self.events))

    def of(self, kind: type[T]) -> list[T]:
        """The events of one kind."""
        return [e for e in self.events if isinstance(e, kind)]


class Reporter:
    """The helpers library code uses on an ``Events`` sink (a ``None`` sink drops everything)."""

    def __init__(self, sink: Events | None = None, min_interval: float = 0.0) -> None:
        self.sink: Events = sink if sink is not None else NullEvents()
        self.min_interval = min_interval  # progress events closer than this (seconds) are merged
        self._last: dict[str, float] = {}

    def progress(self, stage: str, step: int, total: int | None = None, message: str = "",
                 overall: float | None = None) -> None:
        """Emit a progress event (the last step of a stage is always sent); ``overall`` in [0, 1]."""
        now = time.monotonic()
        final = total is not None and step >= total
        if not final and step > 0 and now - self._last.get(stage, -1e9) < self.min_interval:
            return
        self._last[stage] = now
        self.sink.emit(Progress(stage, step, total, message, overall))

    def part(self, index: int, count: int) -> Reporter:
        """A reporter for part ``index`` of ``count`` equal parts of this work: its ``overall`` shares
        become shares of the whole (a tuning's trials, a comparison's candidates)."""
        return Reporter(Part(self.sink, index, count), self.min_interval)

    def log(self, message: str, level: str = "info") -> None:
        """Emit a log line."""
        self.sink.emit(Log(message, level))

    def metric(self, name: str, step: int | None = None, **values: Any) -> None:
        """Emit named numbers."""
        self.sink.emit(Metric(name, dict(values), step))

    def check(self) -> None:
        """Raise ``Cancelled`` when the sink says the work should stop."""
        if self.sink.cancelled():
            raise Cancelled("cancelled")

    def track(self, items: Iterable[T], stage: str, total: int | None = None) -> Iterator[T]:
        """Yield ``items``, checking for cancellation and reporting progress after each."""
        self.progress(stage, 0, total)
        for i, item in enumerate(items, 1):
            self.check()
            yield item
            self.progress(stage, i, total)


def reporter(events: Events | Reporter | None) -> Reporter:
    """A ``Reporter`` for whatever a caller passed (a sink, a reporter, or nothing)."""
    return events if isinstance(events, Reporter) else Reporter(events)
