"""Strict JSON: what robustune writes is valid JSON (no NaN), and what it reads is checked."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from plugins.errors import InvalidInput, brief


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (JSON has no NaN or Infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Valid JSON text (non-finite numbers become null; paths and other objects become strings)."""
    return json.dumps(finite(obj), indent=indent, allow_nan=False, default=str, ensure_ascii=False)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: str, where: str, fix: str) -> Any:
    """Parse JSON text, refusing NaN and Infinity; one line naming ``where`` otherwise."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{where} is not valid JSON ({brief(exc)}); {fix}") from exc


def read_json(path: Path, fix: str) -> Any:
    """Read and parse a JSON file with clear errors for unreadable or invalid files."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason}); {fix}") from exc
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read ({exc.strerror or exc}); {fix}") from exc
    return loads(text, str(path), fix)
