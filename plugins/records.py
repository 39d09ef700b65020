"""Specs and results: frozen dataclasses with a JSON round trip, for jobs and everything they return.

A job (``robustune/jobs``) is a function ``run(spec, events) -> result``: the spec is a frozen
dataclass whose fields carry the help the CLI, the service and the README show; the result is a
dataclass of paths, metrics and timings. Both become JSON with ``to_json``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from plugins import jsonio
from plugins.schema import from_dict, require

S = TypeVar("S", bound="Spec")


def plain(value: Any) -> Any:
    """JSON-ready data: dataclasses to dicts, paths and tuples to strings and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


class Spec:
    """A job's input (mixed into frozen dataclasses): checked when built and when read back (a spec's own
    ``__post_init__`` calls ``require`` for the bounds its options declare)."""

    def __post_init__(self) -> None:
        require(self, [])

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-ready data."""
        return jsonio.finite(plain(self))  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls: type[S], data: Any, where: str = "", lax: bool = False) -> S:
        """The spec from JSON data (``lax``: numbers given as text are accepted, as in YAML)."""
        return from_dict(cls, data, where, "see its options (help on the command line)", lax=lax)

    @classmethod
    def from_options(cls: type[S], options: dict[str, Any]) -> S:
        """The spec from flat options (CLI flags, a config file, a service request): its own fields by
        name; with an ``options:KIND`` field, every other option goes into it (a name both own and one of
        the field's ``only`` goes to both: a tuning's ``seed``)."""
        own = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        nested = next((f for f in own.values() if str(f.metadata.get("ref") or "").startswith("options:")),
                      None)
        if nested is None:
            return cls.from_json(options, lax=True)
        shared = set(nested.metadata.get("only") or ())
        mine = {k: v for k, v in options.items() if k in own and k != nested.name}
        rest = {k: v for k, v in options.items() if k not in own or k in shared}
        given = options.get(nested.name)
        if given is not None and not isinstance(given, dict):
            return cls.from_json({**mine, nested.name: given}, lax=True)  # the reader names the field
        inner = {**(given or {}), **rest}
        inner_given = {nested.name: inner} if given is not None or rest else {}
        return cls.from_json({**mine, **inner_given}, lax=True)

    def or_resume(self: S) -> S:
        """This spec, or one that continues an earlier attempt's work (jobs that resume override it)."""
        return self


class Result:
    """A job's output (mixed into dataclasses)."""

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return jsonio.finite(plain(self))  # type: ignore[no-any-return]
