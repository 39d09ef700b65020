"""Command-line options generated from the spec dataclasses: one source for names, types,
defaults and help (the README's option tables come from here too, see ``docs.py``).

A spec field becomes ``--field-name`` (or its ``flag``); nested dataclasses (a run config's
sections) are flattened; a value given as text is parsed by the field's ``parse`` rule
(``numbers``: ``1/255,2/255``; ``names``: ``a,b``; ``kv``: ``KEY=VALUE,...``; ``number``: ``8/255``).
Every option defaults to "not given", so values from ``--config`` files fill the rest.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from plugins.errors import InvalidInput, opt
from robustune.jobs.fields import SpecField

PARSERS: dict[str, Callable[[str, str], Any]] = {}


def parser(name: str) -> Callable[[Callable[[str, str], Any]], Callable[[str, str], Any]]:
    """Register a text parser for ``parse=name`` fields."""
    def register(fn: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
        PARSERS[name] = fn
        return fn

    return register


@parser("number")
def _number(field: str, text: str) -> float:
    from finetune.run_config import parse_number

    return parse_number(text)


@parser("numbers")
def _numbers(field: str, text: str) -> tuple[float, ...]:
    parts = text.split(",")
    if not text.strip() or any(not p.strip() for p in parts):
        raise InvalidInput(f"{opt(field)} {text!r} has an empty value; give e.g. 1/255,2/255,4/255",
                           field=field)
    return tuple(_number(field, p) for p in parts)


@parser("names")
def _names(field: str, text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(","))
    if not text.strip() or any(not n for n in names):
        raise InvalidInput(f"{opt(field)} {text!r} has an empty name; give e.g. a,b", field=field)
    return names


@parser("kv")
def _kv(field: str, text: str) -> dict[str, Any]:
    from plugins.backbones.scratch import parse_options

    return parse_options(text)


@dataclass(frozen=True)
class Param:
    """One command-line parameter."""

    name: str  # the keyword the callback receives (a spec field's leaf name, or a CLI-only name)
    decls: tuple[str, ...]  # ("--model", "--backbone")
    annotation: Any  # what typer converts the text to
    help: str
    default: Any = None  # shown in the help and the docs (the value itself comes from the spec)
    parse: str | None = None
    argument: bool = False
    repeat: bool = False
    spec: bool = True  # False: a CLI-only switch (--json, --quiet, --config)
    required: bool = False  # a positional argument the spec cannot do without


def spec_params(fields: Iterable[SpecField]) -> list[Param]:
    """Parameters for a job's CLI fields (``robustune.jobs.fields.job_fields``)."""
    out: list[Param] = []
    for f in fields:
        dashed = f.flag.replace("_", "-")
        repeat = typing.get_origin(f.type) in (tuple, list) and f.parse is None
        annotation: Any = str if f.parse else (list[str] if repeat else f.type)
        name = f.flag.replace("-", "_") if f.alias else f.name
        out.append(Param(name, (f"--{dashed}",), annotation, f.help, f.default, f.parse, f.argument, repeat,
                         required=f.required))
        if f.alias:
            out.append(
                Param(
                    f.name,
                    (f"--{f.name.replace('_', '-')}",),
                    annotation,
                    f"same as --{dashed}",
                    None,
                    f.parse,
                )
            )
    return out


def cli_param(name: str, annotation: Any, help: str, *decls: str, default: Any = None) -> Param:
    """A parameter of the command line itself (not a spec field)."""
    return Param(name, decls or (f"--{name.replace('_', '-')}",), annotation, help, default, spec=False)


def shown(value: Any, pixels: bool = False) -> str:
    """A default as people write it (``on``, ``0.001``, ``2/255`` for a pixel budget); empty for none."""
    if value is None or value == "" or value == {} or value == ():
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ",".join(shown(v, pixels) for v in value)
    if isinstance(value, float):
        steps = value * 255
        if pixels and 0 < value < 1 and abs(steps - round(steps)) < 1e-9:
            return f"{round(steps)}/255"
        return f"{value:g}"
    return str(value)


def help_text(p: Param) -> str:
    """The help line with the default appended (``[10]``)."""
    default = shown(p.default, p.parse in ("number", "numbers")) if p.spec else ""
    return f"{p.help} [{default}]" if default and not isinstance(p.default, bool) else p.help


def _typer_param(p: Param) -> inspect.Parameter:
    if p.argument:
        info: Any = typer.Argument(... if p.required else None, help=help_text(p), show_default=False)
    else:
        info = typer.Option(None, *p.decls, help=help_text(p), show_default=False)
    annotation = p.annotation if p.argument or not p.repeat else list[str]
    if p.argument and p.repeat:
        annotation = list[str]
    return inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=info,
                             annotation=typing.Optional[annotation])  # noqa: UP045 - typer needs typing.Optional


def parse_values(params: list[Param], given: dict[str, Any]) -> dict[str, Any]:
    """Text values parsed by each field's rule; parameters not given are left out."""
    rules = {p.name: p.parse for p in params}
    out = {}
    for name, value in given.items():
        if value is None or (isinstance(value, list) and not value and name in rules):
            continue
        rule = rules.get(name)
        out[name] = PARSERS[rule](name, value) if rule and isinstance(value, str) else value
    return out


def add_command(
    app: typer.Typer, name: str, help: str, params: list[Param], handler: Callable[[dict[str, Any]], None]
) -> None:
    """Register ``name``: its callback hands ``handler`` the given values (parsed) and CLI switches.

    A parameter named twice (``seed`` of the split and of the training) is one option.
    """
    params = list({p.name: p for p in reversed(params)}.values())[::-1]

    def callback(**kwargs: Any) -> None:
        handler(parse_values(params, kwargs))

    callback.__name__ = name.replace("-", "_")
    callback.__doc__ = help
    callback.__signature__ = inspect.Signature([_typer_param(p) for p in params])  # type: ignore[attr-defined]
    app.command(name, help=help)(callback)


def config_values(path: Path | None, params: list[Param]) -> dict[str, Any]:
    """Options from a YAML/JSON ``--config`` file, parsed like flags (keys may use - or _)."""
    if path is None:
        return {}
    from finetune.run_config import read_config_file

    raw = read_config_file(Path(path))
    return parse_values(params, {str(k).replace("-", "_"): v for k, v in raw.items()})
