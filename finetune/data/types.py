"""In-memory labeled data: images as uint8 tensors, texts as strings, labels as class indices."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from plugins.errors import InvalidInput


@dataclass
class ImageData:
    """Images: a uint8 tensor (N, C, H, W), or a list of (C, H, W) when sizes differ."""

    images: Tensor | list[Tensor]
    labels: Tensor
    classes: list[str]
    notes: list[str] = field(default_factory=list)
    modality: str = "image"
    groups: list[str] | None = None  # each example's group, for bias metrics
    names: list[str] | None = None  # each image's path relative to the data root
    ids: list[str] | None = None  # each example's id in its source (set by make_splits): path or position

    def __len__(self) -> int:
        return int(self.labels.numel())

    def subset(self, idx: Sequence[int]) -> ImageData:
        """The examples at ``idx`` (same classes)."""
        index = torch.as_tensor(list(idx), dtype=torch.long)
        pick = index.tolist()
        if isinstance(self.images, Tensor):
            images: Tensor | list[Tensor] = self.images[index]
        else:
            images = [self.images[i] for i in pick]
        return ImageData(images, self.labels[index], self.classes, self.notes,
                         groups=_pick(self.groups, pick), names=_pick(self.names, pick),
                         ids=_pick(self.ids, pick))


@dataclass
class TextData:
    """Texts with labels."""

    texts: list[str]
    labels: Tensor
    classes: list[str]
    notes: list[str] = field(default_factory=list)
    modality: str = "text"
    groups: list[str] | None = None  # each example's group, for bias metrics
    ids: list[str] | None = None  # each example's id in its source (set by make_splits): its position

    def __len__(self) -> int:
        return int(self.labels.numel())

    def subset(self, idx: Sequence[int]) -> TextData:
        """The examples at ``idx`` (same classes)."""
        index = list(idx)
        return TextData([self.texts[i] for i in index], self.labels[index], self.classes, self.notes,
                        groups=_pick(self.groups, index), ids=_pick(self.ids, index))


Data = ImageData | TextData


def _pick(values: list[str] | None, index: list[int]) -> list[str] | None:
    return None if values is None else [values[i] for i in index]


@dataclass
class SourceData:
    """What a dataset plugin returns: a pool to split, and its own test split if it has one."""

    name: str
    pool: Data
    test: Data | None = None


def class_name(raw: str, where: str) -> str:
    """A class name as kept: Unicode NFC (``café`` typed two ways is one class), without surrounding
    spaces; a control character (a newline, a tab, a NUL) in it is refused."""
    name = unicodedata.normalize("NFC", str(raw)).strip()
    bad = next((ch for ch in name if unicodedata.category(ch) in ("Cc", "Cf", "Cs")), None)
    if bad is not None:
        raise InvalidInput(f"{where} has a class name with a control character ({bad!r}): {name!r}; "
                           "class names are one line of text")
    if not name:
        raise InvalidInput(f"{where} has an empty class name; give every example a label")
    return name


def labels_from_names(names: Sequence[str], where: str) -> tuple[Tensor, list[str]]:
    """Class indices for string labels (classes sorted, names as ``class_name`` keeps them); one class
    only raises."""
    kept = {n: class_name(n, where) for n in set(names)}
    names = [kept[n] for n in names]
    classes = sorted(set(names))
    check_classes(classes, where)
    lookup = {c: i for i, c in enumerate(classes)}
    return torch.tensor([lookup[n] for n in names], dtype=torch.long), classes


def check_classes(classes: Sequence[str], where: str) -> None:
    """At least two classes are needed to train a classifier."""
    if len(classes) < 2:
        only = f" (only {classes[0]!r})" if classes else ""
        raise InvalidInput(
            f"{where} has {len(classes)} class{only}; a classifier needs at least two classes"
        )


def class_counts(data: Data) -> dict[str, int]:
    """Examples per class name."""
    counts = Counter(data.labels.tolist())
    return {c: counts.get(i, 0) for i, c in enumerate(data.classes)}
