"""The options of a job spec as a flat list: what the CLI, the service's schemas and the docs show.

Nested dataclasses (a run config's sections) are flattened; a leaf name that appears twice (the
split's and the training's ``seed``) is one option. ``for_="cli"`` leaves out fields marked
``cli=False`` and shows an ``options:KIND`` field as that kind's flags (those its ``only`` names);
``for_="service"`` leaves out fields the server decides (``service=False``, outputs).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from plugins.schema import Bounds
from robustune.jobs import job

Audience = Literal["cli", "service", "all"]


@dataclass(frozen=True)
class SpecField:
    """One option: its name, type (``int | None`` becomes int, ``optional``), default and help."""

    name: str
    type: Any
    optional: bool
    default: Any
    required: bool
    help: str
    flag: str  # the CLI name without dashes: ``model`` for the run config's ``backbone``
    parse: str | None = None
    argument: bool = False
    alias: bool = False  # the field's own name is an option too (``--backbone`` beside ``--model``)
    ref: str | None = None  # what the value refers to (plugins.schema.REFS)
    only: tuple[str, ...] | None = None  # an options:KIND field: the options the CLI shows
    bounds: Bounds | None = None  # what the value takes alone (a range, choices, a pattern)

    @property
    def request_name(self) -> str:
        """The name a request (and a config file) uses: the CLI flag's, with underscores."""
        return self.flag.replace("-", "_") if self.alias else self.name

    @property
    def options_of(self) -> str | None:
        """For an ``options:KIND`` field, the job kind whose options it holds."""
        base, _, arg = (self.ref or "").partition(":")
        return arg if base == "options" else None


def base_type(tp: Any) -> tuple[Any, bool]:
    """(``X``, True) for ``X | None``; (tp, False) otherwise."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0], True
    return tp, False


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _shown(meta: Any, for_: Audience) -> bool:
    if for_ == "cli":  # an options:KIND field is shown as that kind's flags
        return bool(meta.get("cli", True)) or str(meta.get("ref") or "").startswith("options:")
    if for_ == "service":
        return bool(meta.get("service", True))
    return True


def spec_fields(cls: type, only: Iterable[str] | None = None, skip: Iterable[str] = (),
                for_: Audience = "cli", loose: frozenset[str] = frozenset()) -> list[SpecField]:
    """The flat options of the dataclass ``cls`` (``only``/``skip`` by leaf name) for one audience; a spec's
    ``not_required`` names nested fields its ``from_options`` fills in when they are left out."""
    wanted = set(only) if only is not None else None
    skipped = set(skip)
    loose = loose | frozenset(getattr(cls, "not_required", ()))
    out: dict[str, SpecField] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skipped:
            continue
        tp, optional = base_type(hints[f.name])
        if dataclasses.is_dataclass(tp):
            for inner in spec_fields(tp, wanted, skipped, for_, loose):  # type: ignore[arg-type]
                out.setdefault(inner.name, inner)
            continue
        meta = f.metadata
        if not _shown(meta, for_) or (wanted is not None and f.name not in wanted):
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING \
            and f.name not in loose
        out.setdefault(f.name, SpecField(
            f.name, tp, optional, _default(f), required, str(meta.get("help", "")),
            meta.get("flag") or f.name, meta.get("parse"), bool(meta.get("argument")),
            bool(meta.get("alias")), meta.get("ref"), meta.get("only"), meta.get("bounds")))
    return list(out.values())


def job_fields(kind: str, for_: Audience = "service") -> list[SpecField]:
    """The flat options of a job kind. On the CLI an ``options:KIND`` field becomes that kind's flags
    (those its ``only`` names) in the field's place; a name given twice is one option."""
    out: dict[str, SpecField] = {}
    for f in spec_fields(job(kind).spec, for_=for_):
        inner = job_fields(f.options_of, "cli") if f.options_of and for_ == "cli" else [f]
        for g in inner:
            if f is g or f.only is None or g.name in f.only:
                out.setdefault(g.name, g)
    return list(out.values())
