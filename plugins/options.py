"""Plugin options: a plugin declares its own settings as a frozen dataclass (``options = MyOptions``),
and a run names the plugin plus ``KEY=VALUE`` settings checked against that declaration.

``--adapter-options scale=2`` (an adapter), ``--attack-options tries=3`` or ``noise.tries=3`` (the
attacks of an audit), ``--explain-options ...`` (an explainer): each value is typed by the
dataclass field, and an unknown key names the closest one.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from typing import Any

from plugins.errors import InvalidInput, opt
from plugins.registry import registry
from plugins.schema import from_dict


def options_class(kind: str, name: str) -> type | None:
    """The options dataclass plugin ``name`` of ``kind`` declares (None: it takes none)."""
    cls = getattr(registry.get(kind, name), "options", None)
    return cls if isinstance(cls, type) and dataclasses.is_dataclass(cls) else None


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _unknown(kind: str, name: str, key: str, known: list[str], field: str) -> InvalidInput:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = ", ".join(known) or "none"
    return InvalidInput(f"{opt(field)}: {kind} {name} has no option {key!r}{hint}; its options are {takes}",
                        field=field)


def plugin_options(kind: str, name: str, given: dict[str, Any], base: Any = None,
                   field: str | None = None) -> Any:
    """The options of plugin ``name``: ``base`` (or the defaults) with ``given`` on top, typed and checked.

    Returns ``base`` unchanged when the plugin declares no options and none are given.
    """
    field = field or f"{kind}_options"
    cls = options_class(kind, name)
    if cls is None:
        if given:
            raise InvalidInput(f"{opt(field)}: {kind} {name} takes no options, got {', '.join(given)}",
                               field=field)
        return base
    known = _field_names(cls)
    for key in given:
        if key not in known:
            raise _unknown(kind, name, key, known, field)
    start = {f.name: getattr(base, f.name) for f in dataclasses.fields(cls)} if isinstance(base, cls) else {}
    return from_dict(cls, {**start, **given}, f"{kind} {name} options", f"see the options of {kind} {name}",
                     lax=True)


def split_options(kind: str, names: Iterable[str], given: dict[str, Any],
                  field: str) -> dict[str, Any]:
    """Options for each of several plugins (an audit's attacks) from one ``KEY=VALUE`` set.

    ``NAME.KEY`` goes to plugin ``NAME``; a bare ``KEY`` goes to every plugin that declares it. A key
    no plugin declares raises with the closest declared one.
    """
    names = list(names)
    per: dict[str, dict[str, Any]] = {n: {} for n in names}
    declared = {n: _field_names(cls) if (cls := options_class(kind, n)) else [] for n in names}
    for key, value in given.items():
        target, _, leaf = key.rpartition(".")
        if target:
            if target not in per:
                raise InvalidInput(f"{opt(field)}: {target!r} is not one of the {kind}s of this run "
                                   f"({', '.join(names)})", field=field)
            per[target][leaf] = value
            continue
        takers = [n for n in names if key in declared[n]]
        if not takers:
            everything = sorted({k for ks in declared.values() for k in ks})
            raise _unknown(kind, "/".join(names), key, everything, field)
        for n in takers:
            per[n][key] = value
    return {n: plugin_options(kind, n, per[n], field=field) for n in names if options_class(kind, n)}
