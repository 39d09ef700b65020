"""The parts of an HTML document robustune writes (reports, explanation pages), as data.

Pages are rendered from Jinja2 templates with autoescaping (``explain/templates``): library
code builds sections of blocks (paragraphs, tables, figures, galleries, highlighted texts,
flags) and never writes HTML by hand, so any text (a class name, a review) is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Strong:
    """Emphasized text inside a paragraph."""

    text: str


@dataclass
class Para:
    """A paragraph of text spans (``Strong`` for emphasis)."""

    spans: list[str | Strong]


@dataclass
class Table:
    """Rows of values under named columns (numbers to 3 decimals, None as a dash)."""

    rows: list[dict[str, Any]]
    columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.columns and self.rows:
            self.columns = list(self.rows[0])


@dataclass
class Figure:
    """An inline PNG with its alternative text and caption."""

    png: bytes
    alt: str
    caption: str = ""


@dataclass
class Gallery:
    """Figures side by side."""

    figures: list[Figure]


@dataclass
class Highlighted:
    """A text with each word shaded by its score (red: for the class, blue: against)."""

    heading: str
    words: list[str]
    scores: list[float]
    label: str = ""  # a second line under the heading (e.g. the adversarial version)
    unknown: list[bool] = field(default_factory=list)  # per word: [UNK] to the model, marked on the page

    @property
    def unknown_note(self) -> str:
        """"(3 of 9 words unreadable to the model: [UNK])", or nothing."""
        n = sum(self.unknown)
        return f"({n} of {len(self.unknown)} words unreadable to the model: [UNK])" if n else ""


@dataclass
class Flags:
    """Sanity flags (code, message)."""

    flags: list[dict[str, str]]


Block = Para | Table | Figure | Gallery | Highlighted | Flags


@dataclass
class Section:
    """A titled part of a document, with a plain-language note on what it means."""

    title: str
    blocks: list[Block]
    note: str = ""


def para(*spans: str | Strong) -> Para:
    """``para("Accuracy ", Strong("0.95"), ".")``."""
    return Para(list(spans))
