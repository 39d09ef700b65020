"""``explanations.json``: what an explain run wrote, one item per input, checked when read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.jsonio import read_json
from plugins.records import Spec
from plugins.schema import from_dict

EXPLAIN_FORMAT = 1


@dataclass(frozen=True)
class ExplainItem:
    """One explained input: its prediction and the class explained (and files or word scores)."""

    prediction: str
    probability: float
    explained_class: str
    input: str | None = None  # image file
    overlay: str | None = None  # its overlay PNG in the folder
    text: str | None = None
    words: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    top_words: list[str] = field(default_factory=list)
    unknown: list[bool] = field(default_factory=list)  # per word: [UNK] to the model's tokenizer
    unknown_share: float | None = None  # the share of the text's words the model cannot read


@dataclass(frozen=True)
class ExplainReport(Spec):
    """The method and one item per input."""

    method: str
    items: list[ExplainItem]
    format_version: int = EXPLAIN_FORMAT
    numerics: dict[str, Any] | None = None  # what the model computed in (plugins/numerics.py)
    unknown_share: float | None = None  # texts: the share of all their words the model reads as [UNK]


def explain_report(method: str, items: list[dict[str, Any]],
                   numerics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON data of an explain run, checked against ``ExplainReport``."""
    marks = [m for item in items for m in item.get("unknown", [])]
    data = {"format_version": EXPLAIN_FORMAT, "method": method, "items": items,
            **({"numerics": numerics} if numerics else {}),
            **({"unknown_share": sum(marks) / len(marks)} if marks else {})}
    from_dict(ExplainReport, data, "explanations", "report this")
    return data


def read_explain_report(path: Path) -> ExplainReport:
    """``explanations.json`` read and checked field by field."""
    fix = "rerun robustune explain to rewrite it"
    return from_dict(ExplainReport, read_json(path, fix), str(path), fix)
