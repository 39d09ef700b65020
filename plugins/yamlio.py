"""YAML as robustune reads it: safe types only, and numbers as JSON (and YAML 1.2) write them, so ``1e-3`` is
a float (PyYAML's YAML 1.1 rules read it as the string "1e-3")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from plugins.errors import InvalidInput, NotFound, brief


class _Loader(yaml.SafeLoader):
    """SafeLoader, with exponent floats without a dot or an exponent sign (``1e-3``, ``2.5e3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load(text: str) -> Any:
    """The data in ``text`` (YAML or JSON)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def read_mapping(path: Path, what: str = "config file") -> dict[str, Any]:
    """The mapping in the YAML or JSON file ``path``; a one-line error for a missing, unreadable or
    non-mapping file (``what`` names it)."""
    if not path.is_file():
        raise NotFound(f"{what} {path} does not exist; pass an existing YAML or JSON file")
    try:
        data = load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} {path} is not valid YAML ({brief(exc)}); fix the file") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} {path} must map option names to values")
    return data
