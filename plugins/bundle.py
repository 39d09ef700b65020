"""Bundles: ``model.safetensors`` + ``robustune.json`` (+ ``tokenizer/``), written atomically."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from plugins.atomic import atomic_dir
from plugins.classifier import Classifier
from plugins.errors import RobustuneError
from plugins.model import ModelSpec, build_classifier

FORMAT_VERSION = 1
META_FILE = "robustune.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"


@dataclass
class Bundle:
    """A loaded bundle: the Classifier in eval mode, its metadata, and the tokenizer for text."""

    path: Path
    model: Classifier
    meta: dict[str, Any]
    tokenizer: Any = None

    @property
    def labels(self) -> list[str]:
        """Class names in logit order."""
        return list(self.meta["labels"])

    @property
    def modality(self) -> str:
        """``image`` or ``text``."""
        return str(self.meta["modality"])


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("robustune", "torch", "timm", "transformers", "safetensors"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def save_bundle(
    target: Path, model: Classifier, meta: dict[str, Any], tokenizer: Any = None,
    overwrite: bool = False,
) -> Path:
    """Write a bundle atomically; ``meta`` must hold model, arch, labels and preprocessing."""
    for key in ("model", "arch", "labels", "preprocessing"):
        if key not in meta:
            raise ValueError(f"bundle metadata lacks {key!r}")
    full = {
        "format_version": FORMAT_VERSION,
        "modality": model.modality,
        **meta,
        "versions": library_versions(),
    }
    with atomic_dir(Path(target), overwrite=overwrite) as tmp:
        save_model(model, str(tmp / WEIGHTS_FILE))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp / TOKENIZER_DIR))
        (tmp / META_FILE).write_text(json.dumps(full, indent=2, default=str))
    return Path(target)


def read_meta(path: Path) -> dict[str, Any]:
    """The bundle's JSON, with clear errors for a missing or foreign folder."""
    path = Path(path)
    if not path.exists():
        raise RobustuneError(f"bundle {path} does not exist; pass the --out folder of a training run")
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise RobustuneError(f"{path} is not a robustune bundle (no {META_FILE}); pass a bundle folder")
    try:
        meta: dict[str, Any] = json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise RobustuneError(f"{meta_file} is corrupt ({exc}); retrain or restore the bundle") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise RobustuneError(
            f"bundle {path} has format {meta.get('format_version')}, this robustune reads "
            f"{FORMAT_VERSION}; upgrade robustune"
        )
    return meta


def load_bundle(path: Path) -> Bundle:
    """Rebuild the model from the registry and JSON, then load the weights strictly."""
    path = Path(path)
    meta = read_meta(path)
    model = build_classifier(ModelSpec.from_json(meta["model"]), meta["arch"])
    try:
        missing, unexpected = load_model(model, str(path / WEIGHTS_FILE), strict=False)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise RobustuneError(f"weights of bundle {path} cannot be loaded ({exc})") from exc
    if missing or unexpected:
        raise RobustuneError(
            f"weights of bundle {path} do not fit its architecture (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}); the bundle is corrupt"
        )
    model.eval()
    tokenizer = None
    if meta["modality"] == "text":
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path / TOKENIZER_DIR))
    return Bundle(path, model, meta, tokenizer)
