"""Rendering documents from the Jinja2 templates in ``explain/templates`` (autoescaped)."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from explain.document import Figure, Flags, Gallery, Highlighted, Para, Strong, Table
from plugins.figures import FONT_FAMILIES


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _shade(score: float, peak: float) -> str:
    strength = abs(score) / (peak or 1.0)
    rgb = "220,40,40" if score >= 0 else "40,90,220"
    return f"background: rgba({rgb},{strength:.2f}); padding: 1px 2px; border-radius: 3px"


def _font_stack() -> str:
    """The CSS font-family list: the families figures use (class names in any script), then sans-serif."""
    return ", ".join([*(f'"{f}"' for f in FONT_FAMILIES), "sans-serif"])


@cache
def environment() -> Any:
    """The template environment (one loader for every page robustune renders)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("explain", "templates"), autoescape=select_autoescape(["html",
                                                                                                  "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=_fmt, data_uri=_data_uri)
    env.globals.update(shade=_shade, max=max, abs=abs, font_stack=_font_stack())
    env.tests.update(strong=lambda b: isinstance(b, Strong), para=lambda b: isinstance(b, Para),
                     table=lambda b: isinstance(b, Table), figure=lambda b: isinstance(b, Figure),
                     gallery=lambda b: isinstance(b, Gallery), highlighted=lambda b: isinstance(b,
                                                                                                Highlighted),
                     flags=lambda b: isinstance(b, Flags))
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` rendered with ``context``."""
    return str(environment().get_template(template).render(**context))
