"""Reading frozen dataclasses from JSON/YAML with every field's type checked, naming the field.

One reader for everything robustune reads back (robustune.json, run.json, config files): unknown
keys, missing fields, wrong types and non-finite numbers become one ``RobustuneError`` line that
names the file and the field; ranges are the dataclasses' own ``__post_init__`` checks.
``lax=True`` (YAML, flags) also turns numeric strings into numbers; files robustune wrote are read
strictly.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from functools import cache
from typing import Any, Literal, TypeVar, Union

from plugins.errors import InvalidInput, RobustuneError, brief, field_error, opt

T = TypeVar("T")
JSON_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true or false",
              int: "an integer", float: "a number", type(None): "null"}


class SchemaError(InvalidInput):
    """A field of a file or config that is missing, unknown, mistyped or out of range.

    Without ``where`` (options given directly) the message starts with the field's name.
    """

    def __init__(self, where: str, field: str, problem: str, fix: str) -> None:
        self.where, self.problem = where, problem
        head = f"{where}: field {field}" if where and field else (f"{where}:" if where else opt(field))
        super().__init__(f"{head} {problem}; {fix}" if head else f"{problem}; {fix}", field=field or None)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _kind(value: Any) -> str:
    return JSON_NAMES.get(type(value), type(value).__name__)


class _Reader:
    def __init__(self, where: str, fix: str, lax: bool) -> None:
        self.where, self.fix, self.lax = where, fix, lax

    def fail(self, path: str, problem: str) -> SchemaError:
        return SchemaError(self.where, path, problem, self.fix)

    def read(self, tp: Any, value: Any, path: str) -> Any:
        if tp is Any:
            return self.finite(value, path)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.dataclass(tp, value, path)
        origin = typing.get_origin(tp)
        if origin in (Union, types.UnionType):
            return self.union(typing.get_args(tp), value, path)
        if origin is Literal:
            choices = typing.get_args(tp)
            if value not in choices:
                raise self.fail(path, f"is {value!r}, expected one of {', '.join(map(repr, choices))}")
            return value
        if origin in (list, tuple):
            return self.sequence(tp, origin, value, path)
        if origin is dict or tp is dict:
            return self.mapping(tp, value, path)
        return self.scalar(tp, value, path)

    def union(self, options: tuple[Any, ...], value: Any, path: str) -> Any:
        if value is None and type(None) in options:
            return None
        errors = []
        for option in _discriminate(options, value):
            try:
                return self.read(option, value, path)
            except SchemaError as exc:
                errors.append(exc)
        raise errors[0]

    def sequence(self, tp: Any, origin: Any, value: Any, path: str) -> Any:
        if not isinstance(value, list | tuple):
            raise self.fail(path, f"is {_kind(value)}, expected a list")
        args = typing.get_args(tp) or (Any,)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise self.fail(path, f"has {len(value)} items, expected {len(args)}")
            return tuple(self.read(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value,
                                                                                        strict=True)))
        items = [self.read(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items

    def mapping(self, tp: Any, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise self.fail(path, f"is {_kind(value)}, expected an object")
        args = typing.get_args(tp) or (str, Any)
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.fail(path, f"has the key {key!r}, expected string keys")
            out[key] = self.read(args[1], item, f"{path}.{key}" if path else key)
        return out

    def scalar(self, tp: Any, value: Any, path: str) -> Any:
        if tp is type(None):
            if value is not None:
                raise self.fail(path, f"is {_kind(value)}, expected null")
            return None
        if tp is bool:
            if isinstance(value, bool):
                return value
            if self.lax and isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
                return value.lower() in ("true", "yes")
        elif tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if self.lax and isinstance(value, str | float) and not isinstance(value, bool):
                number = self.number(value, path)
                if number.is_integer():
                    return int(number)
        elif tp is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return self.finite(float(value), path)
            if self.lax and isinstance(value, str):
                return self.number(value, path)
        elif tp is str:
            if isinstance(value, str):
                return value
        else:
            raise TypeError(f"schema: unsupported field type {tp!r}")  # a programming error
        raise self.fail(path, f"is {_kind(value)} {_short(value)}, expected {JSON_NAMES.get(tp, tp)}")

    def number(self, value: Any, path: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise self.fail(path, f"is {value!r}, expected a number") from None
        return float(self.finite(number, path))

    def finite(self, value: Any, path: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(path, f"is {value}, expected a finite number")
        if isinstance(value, dict):
            return {k: self.finite(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.finite(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def dataclass(self, cls: type, value: Any, path: str) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise self.fail(path, f"is {_kind(value)} {_short(value)}, expected an object")
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = [k for k in value if k not in fields]
        if unknown:
            known = ", ".join(fields)
            raise self.fail(_join(path, str(unknown[0])), f"is not a known field (known: {known})")
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = self.read(hints[name], value[name], _join(path, name))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise self.fail(_join(path, name), "is missing")
        try:
            return cls(**kwargs)
        except SchemaError:
            raise
        except RobustuneError as exc:  # a range check of the dataclass itself
            if not self.where:
                if exc.field and path:
                    exc.field = f"{path}.{exc.field}"
                raise
            raise self.fail(path, f"is invalid: {brief(exc)}" if path else brief(exc)) from exc


def _discriminate(options: tuple[Any, ...], value: Any) -> list[Any]:
    """The union's members to try: dataclasses whose ``Literal`` fields all match ``value`` first."""
    options = tuple(o for o in options if o is not type(None))
    if not isinstance(value, dict):
        return list(options)

    def matches(option: Any) -> bool:
        if not (dataclasses.is_dataclass(option) and isinstance(option, type)):
            return False
        tags = {k: typing.get_args(t) for k, t in _hints(option).items() if typing.get_origin(t) is Literal}
        return bool(tags) and all(value.get(k) in choices for k, choices in tags.items())

    picked = [o for o in options if matches(o)]
    return picked or list(options)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def from_dict(cls: type[T], data: Any, where: str, fix: str, lax: bool = False) -> T:
    """``cls`` built from ``data`` with every field checked; one ``SchemaError`` line otherwise."""
    return _Reader(where, fix, lax).dataclass(cls, data, "")  # type: ignore[no-any-return]


def read_value(tp: Any, data: Any, where: str, field: str, fix: str, lax: bool = False) -> Any:
    """``data`` checked against the type ``tp`` (for fields kept as plain JSON)."""
    return _Reader(where, fix, lax).read(tp, data, field)


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What one field takes on its own (declared with ``option``): a range, choices, a pattern, a least
    length. The spec checks it (``require``) and the service's schema states it (JSON Schema's names)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None  # matched in full
    min_length: int | None = None  # characters of a string, items of a list
    says: str | None = None  # the pattern in words, for the error

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (None: nothing; None values are the type's business)."""
        if value is None:
            return None
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        if self.pattern is not None and isinstance(value, str) and not re.fullmatch(self.pattern, value):
            return f"must be {self.says}" if self.says else f"must match {self.pattern}"
        if self.min_length is not None and hasattr(value, "__len__") and len(value) < self.min_length:
            return "must not be empty" if self.min_length == 1 else f"must have at least {self.min_length}"
        numbers = value if isinstance(value, list | tuple) else [value]  # a range bounds each of a list
        for x in numbers:
            number = isinstance(x, int | float) and not isinstance(x, bool)
            if number and self.ranged and not (math.isfinite(x) and self.holds(x)):
                return f"must be {self.words()}" if x is value else f"must all be {self.words()}"
        return None

    @property
    def ranged(self) -> bool:
        """Whether a range is declared."""
        return any(b is not None for b in (self.ge, self.gt, self.le, self.lt))

    def holds(self, x: float) -> bool:
        """Whether the number ``x`` is in the range."""
        return ((self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))

    def words(self) -> str:
        """The range in words: ``at least 1``, ``in (0, 1]``, ``between 1 and 4096``."""
        low, high = (self.ge, "[") if self.gt is None else (self.gt, "(")
        top, end = (self.le, "]") if self.lt is None else (self.lt, ")")
        if low is not None and top is not None:
            if high == "[" and end == "]":
                return f"between {_num(low)} and {_num(top)}"
            return f"in {high}{_num(low)}, {_num(top)}{end}"
        if low is not None:
            return f"at least {_num(low)}" if high == "[" else f"more than {_num(low)}"
        assert top is not None  # a range declares a bound
        return f"at most {_num(top)}" if end == "]" else f"less than {_num(top)}"


def _num(x: float) -> str:
    """A bound as people write it: 4294967295, not 4.29497e+09; 1e+06 for a float bound that large."""
    return str(int(x)) if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e6) else f"{x:g}"


def given(value: Any) -> bool:
    """Whether an optional field was given: not None, and a list not empty (``Spec.ONE_OF``)."""
    return value is not None and not (isinstance(value, list | tuple) and not value)


def bounds_of(f: dataclasses.Field[Any]) -> Bounds | None:
    """A field's declared bounds."""
    return f.metadata.get("bounds")


def require(obj: Any, rules: list[tuple[str, bool, str]], kind: type[RobustuneError] = InvalidInput) -> None:
    """Check ``obj``'s alternatives (``ONE_OF``: groups of fields of which exactly one is given, whole)
    and declared bounds (``option(ge=...)``), then raise for the first rule that fails:
    ``(field, ok, "must be positive")`` gives the error ``lr must be positive, got -1`` about ``lr``
    (``--lr`` on the command line). Rules that relate fields (or the machine) pass ``kind=Unsupported``:
    each value is fine alone, not together."""
    groups = getattr(type(obj), "ONE_OF", ())
    chosen = [g for g in groups if given(getattr(obj, g[0]))]  # a group is chosen by its first field
    if groups and len(chosen) != 1:
        said = " or ".join(opt(g[0]) + (f" (with {', '.join(map(opt, g[1:]))})" if g[1:] else "")
                           for g in groups)
        raise InvalidInput(f"give exactly one of {said}", field=(chosen[1] if chosen else groups[0])[0])
    for name in chosen[0][1:] if chosen else ():
        if not given(getattr(obj, name)):
            raise InvalidInput(f"{opt(chosen[0][0])} needs {opt(name)}", field=name)
    for f in dataclasses.fields(obj):
        bounds = bounds_of(f)
        problem = bounds.problem(getattr(obj, f.name)) if bounds else None
        if problem:
            raise field_error(f.name, f"{problem}, got {_short(getattr(obj, f.name))}")
    for name, ok, problem in rules:
        if not ok:
            raise field_error(name, f"{problem}, got {getattr(obj, name, None)!r}", kind)


REFS = {  # what a field's value refers to (``ref="output:model"``: the part after ":" is its argument)
    "dataset": "labeled data: a built-in dataset, or a folder or CSV (in a request: an uploaded dataset id)",
    "model": "a trained bundle (in a request: a registered model, name[@VERSION or :ALIAS], or a version id)",
    "upload": "a file or folder the job reads (in a request: the id of uploaded files)",
    "weights": "a weight source (auto, hub, packaged, none) or a weights file (in a request: an upload id)",
    "architecture": "a registered model or timm architecture, or a Hugging Face folder (an upload id)",
    "job-output": "another job's output, of the kind after ':' (in a request: that job's id)",
    "output": "where the job writes (the service sets it: the job's folder, then the name after ':')",
    "inline": "a value given in full (in a request a path on the server is refused)",
    "options": "the flat options of the job kind after ':' (the CLI shows those named by only= as flags)",
}


def _in_requests(cli: bool, ref: str | None, service: bool | None) -> bool:
    """Whether a service request may give the field: as on the CLI unless said; never an output; always a
    nested job's options."""
    base = (ref or "").partition(":")[0]
    if base == "output":
        return False
    return (cli or base == "options") if service is None else service


def option(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,
           parse: str | None = None, cli: bool = True, argument: bool = False, alias: bool = False,
           ref: str | None = None, service: bool | None = None, only: tuple[str, ...] | None = None,
           default_factory: Any = dataclasses.MISSING, ge: float | None = None, gt: float | None = None,
           le: float | None = None, lt: float | None = None, choices: tuple[str, ...] | None = None,
           pattern: str | None = None, min_length: int | None = None, says: str | None = None) -> Any:
    """A spec field with what the CLI, the service and the docs need to present it.

    ``help``: one line for people; ``flag``: the CLI name if not ``--field-name``; ``parse``: how a
    string becomes the value (``numbers``: ``1/255,2/255``; ``names``: ``a,b``; ``kv``:
    ``KEY=VALUE,...``); ``cli=False`` keeps it out of the command line; ``argument`` makes it
    positional; ``alias`` keeps ``--field-name`` as a second option beside ``flag`` (given both, the
    values must agree). ``ref``: what the value refers to (``REFS``), which is how the service
    resolves it; ``service=False`` keeps it out of requests (the server decides it; default: as
    ``cli``, and outputs are always the server's); ``only``: for an
    ``options:KIND`` field, the options the CLI offers as flags. ``ge``/``gt``/``le``/``lt``,
    ``choices``, ``pattern`` (``says``: in words), ``min_length``: what the field takes alone
    (``Bounds``), checked by ``require`` and stated in the service's schema.
    """
    if ref is not None and ref.partition(":")[0] not in REFS:
        raise ValueError(f"ref {ref!r} is not one of {', '.join(REFS)}")  # a programming error
    meta = {"help": help, "flag": flag, "parse": parse, "cli": cli, "argument": argument, "alias": alias,
            "ref": ref, "service": _in_requests(cli, ref, service), "only": only,
            "bounds": Bounds(ge, gt, le, lt, choices, pattern, min_length, says)
            if any(b is not None for b in (ge, gt, le, lt, choices, pattern, min_length)) else None}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
