"""Parse ``--data`` (``name[:arg]`` or a bare folder / .csv path) and load it via the registry."""

from __future__ import annotations

from pathlib import Path

from finetune.data.config import DataOptions
from finetune.data.types import SourceData
from plugins.errors import NotFound
from plugins.registry import registry


def parse_data_spec(spec: str) -> tuple[str, str | None]:
    """``"imagefolder:/x"`` -> ``("imagefolder", "/x")``; a bare path picks its source."""
    name, sep, arg = spec.partition(":")
    if sep and registry.has("dataset", name):
        return name, arg or None
    if registry.has("dataset", spec):
        return spec, None
    path = Path(spec)
    if path.is_dir():
        return "imagefolder", spec
    if path.suffix.lower() == ".csv":
        return "csv", spec
    if not sep and (path.suffix or "/" in spec):
        raise NotFound(f"data path {spec} does not exist; pass an existing folder or .csv file")
    registry.entry("dataset", name)  # raises with a suggestion
    raise AssertionError("unreachable")


def load_data(spec: str, options: DataOptions | None = None) -> SourceData:
    """Load labeled data named by ``spec``."""
    name, arg = parse_data_spec(spec)
    options = options or DataOptions()
    source: SourceData = registry.get("dataset", name)(arg, options)
    if options.groups_file:
        from finetune.data.groups import attach_groups

        source = attach_groups(source, Path(options.groups_file))
    return source


def data_paths(spec: str, options: DataOptions | None = None) -> list[Path]:
    """Local files and folders that ``spec`` (and its options) read: outputs must never replace them."""
    _, arg = parse_data_spec(spec)
    paths = [Path(arg)] if arg else []
    if options is not None:
        paths += [Path(f) for f in (options.groups_file, options.relabel, options.drop) if f]
    return paths
