"""Group membership for bias metrics: a CSV of ``path,group`` matched to an image folder's files."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from finetune.data.types import ImageData, SourceData
from plugins.errors import InvalidInput, NotFound, brief, opt


def read_group_file(path: Path) -> dict[str, str]:
    """``path`` (relative to the image folder, or a bare file name) -> group."""
    if not path.is_file():
        raise NotFound(f"group file {path} does not exist; pass a CSV with columns path,group")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a BOM is not part of the first name
            reader = csv.DictReader(fh)
            if not {"path", "group"} <= set(reader.fieldnames or []):
                raise InvalidInput(f"group file {path} needs the columns path,group (has: "
                                   f"{', '.join(reader.fieldnames or []) or 'none'})")
            return {row["path"].strip(): (row["group"] or "").strip() for row in reader if row.get("path")}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"group file {path} is not a UTF-8 CSV ({brief(exc)}); re-save it as UTF-8") \
            from exc


def attach_groups(source: SourceData, path: Path) -> SourceData:
    """The same data with each image's group; images the file does not name raise."""
    mapping = read_group_file(path)

    def with_groups(data: ImageData) -> ImageData:
        if data.names is None:
            raise InvalidInput(f"{opt('groups')} needs an image folder (files with names); "
                               f"{source.name} has none", field='groups')
        groups = [mapping.get(n, mapping.get(Path(n).name, "")) for n in data.names]
        missing = [n for n, g in zip(data.names, groups, strict=True) if not g]
        if missing:
            raise InvalidInput(f"group file {path} names no group for {len(missing)} image(s), e.g. "
                               f"{', '.join(missing[:3])}; add rows path,group for them")
        return replace(data, groups=groups)

    if not isinstance(source.pool, ImageData):
        raise InvalidInput(f"{opt('groups')} maps image files to groups; for a CSV use "
                           f"{opt('group_column')}", field='groups')
    test = with_groups(source.test) if isinstance(source.test, ImageData) else source.test
    return replace(source, pool=with_groups(source.pool), test=test)
