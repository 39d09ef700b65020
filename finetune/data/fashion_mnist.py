"""Fashion-MNIST from its IDX ``.gz`` files (Debian package or a user folder)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from finetune.data.config import DataOptions
from finetune.data.types import ImageData, SourceData
from plugins.assets import locate
from plugins.errors import InvalidInput, NotFound, brief

CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (optionally gzipped), checked against its header."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
        zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
        if zero != 0 or dtype != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
        data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
        return data.reshape(shape)
    except (OSError, ValueError, struct.error, EOFError) as exc:
        raise InvalidInput(f"Fashion-MNIST file {path} is corrupt ({brief(exc)}); reinstall it") from exc


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise NotFound(f"Fashion-MNIST folder {folder} lacks {stem}.gz; give the folder of the 4 IDX files")


def _split(folder: Path, which: str) -> ImageData:
    images_file, labels_file = FILES[which]
    images = read_idx(_find(folder, images_file))
    labels = read_idx(_find(folder, labels_file))
    if len(images) != len(labels):
        raise InvalidInput(f"Fashion-MNIST {which} images and labels differ in count in {folder}")
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    return ImageData(tensor, torch.from_numpy(labels.astype(np.int64)), list(CLASSES))


def load(arg: str | None, options: DataOptions) -> SourceData:
    """Train split as the pool, the official 10k test split as holdout."""
    folder = Path(arg) if arg else locate("fashion-mnist")
    if not folder.is_dir():
        raise NotFound(f"Fashion-MNIST folder {folder} does not exist; pass the folder of IDX files")
    return SourceData("fashion-mnist", _split(folder, "train"), _split(folder, "test"))


load.modality = "image"  # type: ignore[attr-defined]  # what clients show before loading
