"""Reading state dicts safely (never unpickling objects) and fitting them to a model, key by key."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from plugins.errors import InvalidInput, NotFound, RobustuneError, brief, opt

PICKLE_SUFFIXES = {".pth", ".pt", ".bin", ".ckpt"}
DIR_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.pt")
STRIP_PREFIXES = ("module.", "model.", "backbone.model.", "backbone.features.", "backbone.", "features.")


def pickled_refusal(source: object) -> RobustuneError:
    """The error for weights that carry pickled objects (never unpickled)."""
    return InvalidInput(f"the weights in {source} carry pickled objects beyond tensors; refused (never "
                          "unpickled): re-save them as safetensors or a plain state dict")


def weights_file(path: Path) -> Path:
    """The weights file for ``path`` (a file, or a directory holding one of ``DIR_FILES``)."""
    if not path.exists():
        raise NotFound(f"weights path {path} does not exist; pass an existing file or hub/none")
    if path.is_dir():
        for name in DIR_FILES:
            if (path / name).is_file():
                return path / name
        raise InvalidInput(
            f"weights folder {path} holds none of {', '.join(DIR_FILES)}; point {opt('weights')} at the file"
        )
    return path


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors from a safetensors file or a tensor-only ``.pth`` (``weights_only=True``)."""
    file = weights_file(Path(path))
    if file.suffix == ".safetensors":
        try:
            return load_file(str(file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise InvalidInput(f"weights file {file} is not valid safetensors ({brief(exc)})") from exc
    if file.suffix not in PICKLE_SUFFIXES:
        raise InvalidInput(
            f"weights file {file} has unknown type {file.suffix!r}; use .safetensors or .pth"
        )
    try:
        obj = torch.load(str(file), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise pickled_refusal(file) from exc
    except (RuntimeError, OSError, EOFError) as exc:
        raise InvalidInput(f"weights file {file} cannot be read ({brief(exc)})") from exc
    return _unwrap(obj, file)


def _unwrap(obj: object, file: Path) -> dict[str, Tensor]:
    """Accept ``{"state_dict": sd}`` / ``{"model": sd}`` wrappers around a state dict."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise InvalidInput(f"weights file {file} is not a state dict of tensors")
    return {str(k): v for k, v in obj.items()}


def _strip(sd: dict[str, Tensor], model_keys: set[str]) -> dict[str, Tensor]:
    """Remove wrapper prefixes (``module.``, ``backbone.``) the model does not use."""
    for prefix in STRIP_PREFIXES:
        if any(k.startswith(prefix) for k in sd) and not any(k.startswith(prefix) for k in model_keys):
            inner = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            if set(inner) & model_keys:
                return inner
    return sd


def fit_state_dict(
    model: nn.Module, sd: dict[str, Tensor], source: str, ignore: Iterable[str] = ()
) -> dict[str, Tensor]:
    """Check ``sd`` against ``model`` key by key; raise naming the first mismatches.

    Keys starting with a prefix in ``ignore`` (a classifier head the model dropped) are dropped.
    """
    target = model.state_dict()
    sd = _strip(sd, set(target))
    ignore = tuple(ignore)
    sd = {k: v for k, v in sd.items() if not (ignore and k.startswith(ignore) and k not in target)}
    missing = [k for k in target if k not in sd]
    unexpected = [k for k in sd if k not in target]
    shapes = [
        f"{k} {tuple(sd[k].shape)} vs {tuple(target[k].shape)}"
        for k in target
        if k in sd and sd[k].shape != target[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (first: {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (first: {', '.join(unexpected[:3])})")
    if shapes:
        problems.append(f"{len(shapes)} of another shape (first: {'; '.join(shapes[:2])})")
    if problems:
        raise InvalidInput(
            f"weights {source} do not fit {type(model).__name__}: {'; '.join(problems)}; "
            f"check that {opt('backbone')} matches the architecture the file was saved from"
        )
    return sd


def load_by_position(model: nn.Module, sd: dict[str, Tensor], source: str) -> None:
    """Load a state dict whose key names differ but whose order and shapes match the model."""
    target = model.state_dict()
    if len(sd) != len(target):
        raise InvalidInput(
            f"weights {source} have {len(sd)} tensors, the model {len(target)}; wrong file?"
        )
    mapped = {}
    for (src_key, tensor), (dst_key, ref) in zip(sd.items(), target.items(), strict=True):
        if tensor.shape != ref.shape:
            raise InvalidInput(
                f"weights {source}: {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                f"{tuple(ref.shape)}; wrong file?"
            )
        mapped[dst_key] = tensor
    model.load_state_dict(mapped, strict=True)
