"""Durations as people write them: ``90s``, ``20m``, ``1.5h``, ``2d`` or plain seconds."""

from __future__ import annotations

import math

from plugins.errors import InvalidInput, opt

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float, field: str) -> float:
    """Seconds for ``text`` (``field``: the option it came from, named in the error)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value, scale = float(text), 1
    else:
        raw = str(text).strip().lower()
        scale = UNITS.get(raw[-1:], 1)
        try:
            value = float(raw[:-1] if raw[-1:] in UNITS else raw)
        except ValueError:
            raise InvalidInput(f"cannot read the duration {text!r} of {opt(field)}; write e.g. 90s, 20m "
                               "or 1h", field=field) from None
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"{opt(field)} must be a positive duration, e.g. 90s, 20m or 1h", field=field)
    return value * scale
