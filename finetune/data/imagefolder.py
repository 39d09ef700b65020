"""``imagefolder:PATH``: one subfolder of images per class."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from finetune.data.config import DataOptions
from finetune.data.images import DEFAULT_SIDE, IMAGE_SUFFIXES, try_read_image
from finetune.data.types import ImageData, SourceData, check_classes, class_name
from plugins.errors import InvalidInput, NotFound, opt


def _class_files(root: Path) -> dict[str, list[Path]]:
    if not root.exists():
        raise NotFound(f"image folder {root} does not exist; pass imagefolder:PATH to a folder")
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder; imagefolder wants one subfolder per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    where = f"image folder {root}"
    check_classes(sorted({class_name(c.name, where) for c in folders}), where)
    files: dict[str, list[Path]] = {}
    for folder in folders:
        found = sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            kinds = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
            raise InvalidInput(
                f"class folder {folder} has no images ({kinds}); add images or remove the folder"
            )
        files.setdefault(class_name(folder.name, where), []).extend(found)  # NFC twins: one class
    return dict(sorted(files.items()))


def load(arg: str | None, options: DataOptions) -> SourceData:
    """Read every image, reduced on load toward ``options.image_side``; corrupt files raise (named)
    unless ``options.skip_corrupt``."""
    if not arg:
        raise InvalidInput(f"imagefolder needs a path: {opt('data')} imagefolder:PATH")
    root = Path(arg)
    images: list[Tensor] = []
    labels: list[int] = []
    names: list[str] = []
    bad: list[Path] = []
    files = _class_files(root)
    for index, (_, paths) in enumerate(files.items()):
        for path in paths:
            tensor = try_read_image(path, options.image_side or DEFAULT_SIDE)
            if tensor is None:
                bad.append(path)
                continue
            images.append(tensor)
            labels.append(index)
            names.append(path.relative_to(root).as_posix())
    notes = []
    if bad and not options.skip_corrupt:
        shown = ", ".join(str(p.relative_to(root)) for p in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise InvalidInput(
            f"{len(bad)} unreadable image(s) in {root}: {shown}{more}; fix or delete them, "
            f"or pass {opt('skip_corrupt')} to skip them"
        )
    if bad:
        notes.append(f"skipped {len(bad)} unreadable image(s)")
    classes = list(files)
    present = set(labels)
    empty = [c for i, c in enumerate(classes) if i not in present]
    if empty:
        raise InvalidInput(f"class folder(s) {', '.join(empty)} have no readable images; add images")
    same = len({tuple(t.shape) for t in images}) == 1
    stacked: Tensor | list[Tensor] = torch.stack(images) if same else images
    data = ImageData(stacked, torch.tensor(labels, dtype=torch.long), classes, notes, names=names)
    return SourceData(f"imagefolder:{root}", data)


load.modality = "image"  # type: ignore[attr-defined]  # what clients show before loading
