"""The explanation report: one self-contained HTML file (styles and images inline, no script, no
network), built from sections that each carry a plain-language note."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from explain.render import png_data_uri

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 60em;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { background: #f4f6f8; border-left: 4px solid #7a8ca0; padding: 0.5em 1em; font-size: 0.92em; }
.flag { color: #a15c00; } .gallery { display: flex; flex-wrap: wrap; gap: 1em; }
.gallery figure { margin: 0; max-width: 28em; } figcaption { font-size: 0.85em; }
.text-example { margin: 0.6em 0; }
@media print { h2 { page-break-before: auto; } .gallery figure { page-break-inside: avoid; } }
"""


@dataclass
class Section:
    """A titled part of the report: HTML body and a note saying what it means."""

    title: str
    body: str
    note: str = ""


def esc(value: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(value))


def fmt(value: Any) -> str:
    """Numbers to 3 decimals, None as a dash, anything else as text."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return esc(value)


def table_html(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A table of dict rows (columns: the first row's keys unless given)."""
    if not rows:
        return "<p>(none)</p>"
    cols = columns or list(rows[0])
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{fmt(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def img_html(png: bytes, alt: str, caption: str = "") -> str:
    """An inline PNG in a figure."""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><img src="{png_data_uri(png)}" alt="{esc(alt)}" style="max-width: 100%">{cap}</figure>'


def render_report(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole document."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1><p>{esc(subtitle)}</p>",
             "<nav><b>Contents</b><ol>"
             + "".join(f"<li><a href='#s{i}'>{esc(s.title)}</a></li>" for i, s in enumerate(sections))
             + "</ol></nav>"]
    for i, s in enumerate(sections):
        note = f"<div class='note'>{s.note}</div>" if s.note else ""
        parts.append(f"<section id='s{i}'><h2>{esc(s.title)}</h2>{note}{s.body}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
