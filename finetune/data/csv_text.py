"""``csv:PATH``: a CSV with a text column and a label column (names configurable)."""

from __future__ import annotations

import csv
from pathlib import Path

from finetune.data.config import DataOptions
from finetune.data.types import SourceData, TextData, labels_from_names
from plugins.errors import InvalidInput, NotFound, brief, opt


def load(arg: str | None, options: DataOptions) -> SourceData:
    """Read texts and string labels; missing columns or empty texts raise, naming rows."""
    if not arg:
        raise InvalidInput(f"csv needs a path: {opt('data')} csv:PATH")
    path = Path(arg)
    if not path.is_file():
        raise NotFound(f"CSV file {path} does not exist; pass csv:PATH to an existing file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a BOM is not part of the first name
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            want = [options.text_column, options.label_column]
            want += [options.group_column] if options.group_column else []
            missing = [c for c in want if c not in columns]
            if missing:
                raise NotFound(
                    f"CSV {path} lacks column(s) {', '.join(missing)} (has: {', '.join(columns) or 'none'}); "
                    f"name them with {opt('text_column')} / {opt('label_column')} / {opt('group_column')}"
                )
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"CSV {path} is not UTF-8 text ({brief(exc)}); re-save it as UTF-8") from exc
    except csv.Error as exc:
        raise InvalidInput(f"CSV {path} is malformed ({brief(exc)}); fix the file") from exc
    texts = [(r.get(options.text_column) or "").strip() for r in rows]
    names = [(r.get(options.label_column) or "").strip() for r in rows]
    empty = [i + 2 for i, t in enumerate(texts) if not t]
    if empty:
        shown = ", ".join(map(str, empty[:5]))
        raise InvalidInput(
            f"CSV {path} has {len(empty)} empty text(s) in column {options.text_column!r} "
            f"(line {shown}); fill or remove those rows"
        )
    unlabeled = [i + 2 for i, n in enumerate(names) if not n]
    if unlabeled:
        shown = ", ".join(map(str, unlabeled[:5]))
        raise InvalidInput(f"CSV {path} has rows without a label (line {shown}); label or remove them")
    labels, classes = labels_from_names(names, f"CSV {path}")
    groups = None
    if options.group_column:
        groups = [(r.get(options.group_column) or "").strip() for r in rows]
        blank = [i + 2 for i, g in enumerate(groups) if not g]
        if blank:
            raise InvalidInput(f"CSV {path} has rows without a group in column {options.group_column!r} "
                               f"(line {', '.join(map(str, blank[:5]))}); fill them or drop "
                               f"{opt('group_column')}")
    return SourceData(f"csv:{path}", TextData(texts, labels, classes, groups=groups))


load.modality = "text"  # type: ignore[attr-defined]  # what clients show before loading
