"""Figures in any script: matplotlib (Agg) with a font fallback list covering Latin, Greek, Cyrillic,
CJK, Arabic and Hebrew. matplotlib (>= 3.11, with libraqm) shapes Arabic and puts right-to-left
words in display order itself. The HTML pages name the same families
(``FONT_FAMILIES``), so a class name looks the same in a figure, the page and its PDF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

# First family that has a character draws it (matplotlib >= 3.6 falls back glyph by glyph; so do browsers).
# Debian's fonts-noto-core and fonts-noto-cjk hold the Noto families; DejaVu Sans ships with matplotlib.
FONT_FAMILIES = ("Noto Sans", "Noto Sans CJK JP", "Noto Sans Arabic", "Noto Sans Hebrew", "DejaVu Sans")
_FONT_FILES = re.compile(r"^NotoSans(CJK|Arabic|Hebrew)?-(Regular|Bold)\.(ttf|otf|ttc)$")


@cache
def font_families() -> tuple[str, ...]:
    """The ``FONT_FAMILIES`` matplotlib can use here, in order (added if its font cache predates them)."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    if not set(FONT_FAMILIES) <= known:  # fonts installed after matplotlib built its cache
        for path in font_manager.findSystemFonts():
            if _FONT_FILES.match(Path(path).name):
                font_manager.fontManager.addfont(path)
        known = {f.name for f in font_manager.fontManager.ttflist}
    return tuple(f for f in FONT_FAMILIES if f in known)


@contextmanager
def figures() -> Iterator[Any]:
    """``matplotlib.pyplot`` on the Agg backend with the font fallback list, for the block's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.family": list(font_families())}):
        yield plt

