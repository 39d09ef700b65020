"""Figures draw class names in any script: the fallback list covers each script, and matplotlib
(with libraqm) lays right-to-left words out right to left."""

from __future__ import annotations

import warnings

import pytest

from plugins.figures import FONT_FAMILIES, figures, font_families

NAMES = {"Cyrillic": "кошка", "Greek": "σκύλος", "CJK": "鳥類", "Arabic": "حصان عربي", "Hebrew": "סוס ים"}


def test_every_script_is_drawn_without_a_missing_glyph() -> None:
    if font_families()[:-1] != FONT_FAMILIES[:-1]:
        pytest.skip(f"the Noto fonts are not installed here (found {font_families()}); run make setup")
    with figures() as plt, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_xticks(range(len(NAMES)), list(NAMES.values()))
        ax.set_title(" / ".join(NAMES.values()))
        fig.canvas.draw()
        plt.close(fig)
    assert not [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_right_to_left_words_are_laid_out_right_to_left() -> None:
    """The Agg renderer's own layout of a two-word Arabic and Hebrew name: the first word's glyphs
    lie to the right of the second word's."""
    if "Noto Sans Arabic" not in font_families():
        pytest.skip("the Noto fonts are not installed here; run make setup")
    from matplotlib import ft2font
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    with figures() as plt:
        renderer = RendererAgg(200, 100, 72)
        for name in (NAMES["Arabic"], NAMES["Hebrew"]):
            font = renderer._prepare_font(FontProperties(family=list(plt.rcParams["font.family"])))
            items = font._layout(name, ft2font.LoadFlags.NO_HINTING)
            space = next(i for i, item in enumerate(items) if item.char == " ")
            first = {c for c in name.split(" ")[0]}
            xs_first = [it.x for it in items if it.char in first]
            xs_second = [it.x for i, it in enumerate(items) if i != space and it.char not in first]
            assert min(xs_first) > max(xs_second), name
