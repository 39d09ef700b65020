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
from plugins.schema import from_dict

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
    """A job's input (mixed into frozen dataclasses): checked when built and when read back."""

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-ready data."""
        return jsonio.finite(plain(self))  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls: type[S], data: Any, where: str = "", lax: bool = False) -> S:
        """The spec from JSON data (``lax``: numbers given as text are accepted, as in YAML)."""
        return from_dict(cls, data, where, "see its options (--help on the command line)", lax=lax)


class Result:
    """A job's output (mixed into dataclasses)."""

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return jsonio.finite(plain(self))  # type: ignore[no-any-return]
