"""The options of a job spec as a flat list: what the CLI, the service's schemas and the docs show.

Nested dataclasses (a run config's sections) are flattened; a leaf name that appears twice (the
split's and the training's ``seed``) is one option; fields marked ``cli=False`` are left out.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


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


def spec_fields(cls: type, only: Iterable[str] | None = None, skip: Iterable[str] = ()) -> list[SpecField]:
    """The flat options of the dataclass ``cls`` (``only``/``skip`` by leaf name)."""
    wanted = set(only) if only is not None else None
    skipped = set(skip)
    out: dict[str, SpecField] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skipped:
            continue
        tp, optional = base_type(hints[f.name])
        if dataclasses.is_dataclass(tp):
            for inner in spec_fields(tp, wanted, skipped):  # type: ignore[arg-type]
                out.setdefault(inner.name, inner)
            continue
        meta = f.metadata
        if not meta.get("cli", True) or (wanted is not None and f.name not in wanted):
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.setdefault(
            f.name,
            SpecField(
                f.name,
                tp,
                optional,
                _default(f),
                required,
                str(meta.get("help", "")),
                meta.get("flag") or f.name,
                meta.get("parse"),
                bool(meta.get("argument")),
                bool(meta.get("alias")),
            ),
        )
    return list(out.values())


def job_fields(kind: str) -> list[SpecField]:
    """The flat options of a job kind as a request names them: train and run take the run config's
    options (data, model, epochs, ...) directly, run adds its own (attacks, eps, ...)."""
    from finetune.run_config import RunConfig
    from robustune.jobs import job

    spec_type, _ = job(kind).load()
    if kind in ("train", "run"):
        own = spec_fields(spec_type, skip=("run",)) if kind == "run" else []
        return [*spec_fields(RunConfig), *own]
    return spec_fields(spec_type)
