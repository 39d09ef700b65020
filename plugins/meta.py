"""The schema of ``robustune.json``: every field typed and range-checked when a bundle is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from plugins.backbones.config import MAX_IMAGE_SIZE, MAX_LENGTH
from plugins.errors import InvalidInput, Unsupported
from plugins.model import ModelSpec

FORMAT_VERSION = 1
MODALITIES = ("image", "text")


def to_json(value: Any) -> Any:
    """The JSON form of a schema value: dataclasses as objects (an optional field left at its ``None``
    default is omitted, as the reader takes it), tuples as lists."""
    if isinstance(value, ModelSpec):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (getattr(value, f.name) is None and f.default is None)}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


@dataclass(frozen=True)
class ImagePreprocessing:
    """Square input size and the normalization inside the model (pixels in [0, 1])."""

    modality: Literal["image"]
    input_size: tuple[int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __post_init__(self) -> None:
        channels, height, width = self.input_size
        if channels != 3 or height != width or not 1 <= width <= MAX_IMAGE_SIZE:
            raise InvalidInput(f"preprocessing.input_size must be [3, S, S] with S in 1..{MAX_IMAGE_SIZE}, "
                               f"got {list(self.input_size)}")
        if not all(0 <= m <= 1 for m in self.mean) or not all(0 < s <= 1 for s in self.std):
            raise InvalidInput("preprocessing.mean must lie in [0, 1] and std in (0, 1] (pixel units), got "
                               f"mean {list(self.mean)}, std {list(self.std)}")

    @property
    def size(self) -> int:
        """Side of the square input."""
        return self.input_size[-1]

    def to_json(self) -> dict[str, Any]:
        """As written in ``robustune.json``."""
        return dict(to_json(self))


@dataclass(frozen=True)
class TextPreprocessing:
    """Longest input in tokens; the tokenizer lives in the bundle's ``tokenizer/``."""

    modality: Literal["text"]
    max_length: int
    tokenizer: Literal["tokenizer"] = "tokenizer"

    def __post_init__(self) -> None:
        if not 1 <= self.max_length <= MAX_LENGTH:
            raise InvalidInput(f"preprocessing.max_length must be in 1..{MAX_LENGTH}, "
                               f"got {self.max_length}")

    def to_json(self) -> dict[str, Any]:
        """As written in ``robustune.json``."""
        return dict(to_json(self))


Preprocessing: TypeAlias = ImagePreprocessing | TextPreprocessing


@dataclass(frozen=True)
class AdapterRecord:
    """How the model was trained (or ``imported``)."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataRecord:
    """Where the training data came from and how it was split."""

    source: str
    splits: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    weights: str | None = None  # imported models: the file they came from


@dataclass(frozen=True)
class BundleMeta:
    """``robustune.json``."""

    format_version: int
    modality: Literal["image", "text"]
    model: ModelSpec
    arch: dict[str, Any]
    labels: list[str]
    preprocessing: Preprocessing
    adapter: AdapterRecord | None = None
    recipe: str = "supervised"
    split: dict[str, Any] | None = None
    data: DataRecord | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    identity: str = ""  # the real model behind the plugin, e.g. sentence-transformers/all-MiniLM-L6-v2
    numerics: dict[str, Any] = field(default_factory=dict)  # what training and evaluation computed in
    trust: dict[str, Any] | None = None  # calibration, conformal scores, unfamiliar threshold (older: none)
    baseline: dict[str, Any] | None = None  # the classical baseline on the same split (older: none)

    def __post_init__(self) -> None:
        if self.format_version != FORMAT_VERSION:
            raise InvalidInput(f"format_version is {self.format_version}, this robustune reads "
                               f"{FORMAT_VERSION}")
        if len(self.labels) != self.model.num_classes:
            raise InvalidInput(f"labels has {len(self.labels)} names but model.num_classes is "
                               f"{self.model.num_classes}")
        blank = [i for i, name in enumerate(self.labels) if not name.strip()]
        if blank:
            raise InvalidInput(f"labels[{blank[0]}] is empty")
        if len(set(self.labels)) != len(self.labels):
            twice = next(n for n in self.labels if self.labels.count(n) > 1)
            raise InvalidInput(f"labels names {twice!r} twice")
        if self.preprocessing.modality != self.modality:
            raise InvalidInput(f"preprocessing is for {self.preprocessing.modality} but modality is "
                               f"{self.modality}")
        size = self.arch.get("image_size")
        if isinstance(self.preprocessing, ImagePreprocessing) and size is not None \
                and size != self.preprocessing.size:
            raise InvalidInput(f"arch.image_size {size} differs from preprocessing.input_size "
                               f"{list(self.preprocessing.input_size)}")

    @property
    def label_names(self) -> list[str]:
        """Class names in logit order."""
        return list(self.labels)

    @property
    def image_size(self) -> int:
        """Side of the square input of an image model."""
        if not isinstance(self.preprocessing, ImagePreprocessing):
            raise Unsupported("this is a text model: it takes texts, not images")
        return self.preprocessing.size

    @property
    def max_length(self) -> int:
        """Longest input in tokens of a text model."""
        if not isinstance(self.preprocessing, TextPreprocessing):
            raise Unsupported("this is an image model: it takes images, not texts")
        return self.preprocessing.max_length

    @property
    def data_source(self) -> str | None:
        """Where the training data came from (``None`` when not recorded)."""
        return self.data.source if self.data is not None else None

    def to_json(self) -> dict[str, Any]:
        """As written in ``robustune.json`` (for what must hand the metadata on as JSON)."""
        return dict(to_json(self))
