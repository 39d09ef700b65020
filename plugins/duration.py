"""Durations as people write them: ``90s``, ``20m``, ``1.5h``, ``2d`` or plain seconds."""

from __future__ import annotations

import re

from plugins.errors import InvalidInput, opt

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_SAYS = "a positive duration: seconds, or a number with s, m, h or d (90s, 20m, 1.5h)"
DURATION = r"0*(?:[1-9][0-9]{0,11}(?:\.[0-9]{1,9})?|\.[0-9]{0,8}[1-9][0-9]{0,8})[smhd]?"  # positive


def parse_duration(text: str | float, field: str) -> float:
    """Seconds for ``text`` (``field``: the option it came from, named in the error)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if not 0 < text < float("inf"):
            raise InvalidInput(f"{opt(field)} must be a positive duration, e.g. 90s, 20m or 1h", field=field)
        return float(text)
    if not (isinstance(text, str) and re.fullmatch(DURATION, text)):
        raise InvalidInput(f"cannot read the duration {text!r} of {opt(field)}; write a positive number of "
                           "seconds or one with s, m, h or d: 90s, 20m, 1.5h", field=field)
    scale = UNITS.get(text[-1], 1)
    return float(text.rstrip("smhd")) * scale
