"""The schema of ``robustune.json``: every field typed and range-checked when a bundle is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from plugins.backbones.base import MAX_IMAGE_SIZE, MAX_LENGTH
from plugins.errors import InvalidInput
from plugins.model import ModelSpec

FORMAT_VERSION = 1
MODALITIES = ("image", "text")


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
    preprocessing: ImagePreprocessing | TextPreprocessing
    adapter: AdapterRecord | None = None
    recipe: str = "supervised"
    split: dict[str, Any] | None = None
    data: DataRecord | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    identity: str = ""  # the real model behind the plugin, e.g. sentence-transformers/all-MiniLM-L6-v2
    numerics: dict[str, Any] = field(default_factory=dict)  # what training and evaluation computed in

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

