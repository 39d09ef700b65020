"""Bundles: ``model.safetensors`` + ``robustune.json`` (+ ``tokenizer/``, + ``trust-HASH.safetensors``
where the trust record's unfamiliar score keeps tensors), written atomically."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model

from plugins import jsonio
from plugins.atomic import atomic_dir
from plugins.classifier import Classifier
from plugins.errors import InvalidInput, NotFound, RobustuneError, TrainingDiverged, Unsupported, brief, opt
from plugins.meta import FORMAT_VERSION, BundleMeta
from plugins.model import ModelSpec, build_classifier
from plugins.schema import from_dict

META_FILE = "robustune.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"


@dataclass
class Bundle:
    """A loaded bundle: the Classifier in eval mode, its typed metadata, and the tokenizer for text."""

    path: Path
    model: Classifier
    meta: BundleMeta
    tokenizer: Any = None
    trust_tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # the unfamiliar score's, if any

    @property
    def labels(self) -> list[str]:
        """Class names in logit order."""
        return self.meta.label_names

    @property
    def modality(self) -> str:
        """``image`` or ``text``."""
        return self.meta.modality


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
    overwrite: bool = False, inputs: Iterable[Path | str | None] = (),
) -> Path:
    """Write a bundle atomically; ``meta`` must hold model, arch, labels and preprocessing.

    Non-finite weights are refused: no bundle that predicts NaN is ever written.
    """
    for key in ("model", "arch", "labels", "preprocessing"):
        if key not in meta:
            raise ValueError(f"bundle metadata lacks {key!r}")
    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not t.isfinite().all()]
    if bad:
        raise TrainingDiverged(f"the trained weights hold NaN or infinite values ({len(bad)} tensors, first "
                               f"{bad[0]}); training diverged: lower {opt('lr')}; no bundle was written",
                               field="lr")
    full = {
        "format_version": FORMAT_VERSION,
        "modality": model.modality,
        **meta,
        "versions": library_versions(),
    }
    validate_meta(jsonio.loads(jsonio.dumps(full), "bundle metadata", "report this"), f"bundle {target}")
    with atomic_dir(Path(target), overwrite=overwrite, inputs=inputs, kind="bundle") as tmp:
        save_model(model, str(tmp / WEIGHTS_FILE))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp / TOKENIZER_DIR))
        (tmp / META_FILE).write_text(jsonio.dumps(full))
    return Path(target)


def update_meta(target: Path, trust_tensors: dict[str, torch.Tensor] | None = None,
                **fields: Any) -> BundleMeta:
    """Set top-level ``fields`` of an existing bundle's ``robustune.json`` (its trust record, say): the
    whole file is checked again and replaced atomically under the output lock; the weights are not
    touched. ``trust_tensors`` (with a ``trust`` field) go to a new ``trust-HASH.safetensors`` the record
    names, written before the record, so a reader never sees a record without its tensors; files no
    longer named are removed after."""
    import hashlib

    from safetensors.torch import save

    from plugins.atomic import atomic_write_bytes, atomic_write_text, output_lock

    target = Path(target)
    read_meta(target)  # a bundle, readable, before anything changes
    with output_lock(target):
        meta = jsonio.read_json(target / META_FILE, DAMAGED)
        meta.update(fields)
        if trust_tensors:
            data = save({k: v.contiguous() for k, v in trust_tensors.items()})
            name = f"trust-{hashlib.sha256(data).hexdigest()[:12]}.safetensors"
            meta["trust"]["unfamiliar"]["file"] = name
            atomic_write_bytes(target / name, data)
        typed = validate_meta(jsonio.loads(jsonio.dumps(meta), "bundle metadata", "report this"),
                              f"bundle {target}")
        atomic_write_text(target / META_FILE, jsonio.dumps(meta))
        kept = _trust_file(typed)
        for old in target.glob("trust-*.safetensors"):
            if old.name != kept:
                old.unlink(missing_ok=True)
    return typed


def _trust_file(meta: BundleMeta) -> str | None:
    """The tensors file the trust record names, if any."""
    file = ((meta.trust or {}).get("unfamiliar") or {}).get("file")
    return file if isinstance(file, str) else None


def load_trust_tensors(path: Path, meta: BundleMeta) -> dict[str, torch.Tensor]:
    """What the record's unfamiliar score fitted (none for energy); a missing or damaged file is one line."""
    from safetensors.torch import load_file

    name = _trust_file(meta)
    if name is None:
        return {}
    if "/" in name or "\\" in name or not name.startswith("trust-"):
        raise InvalidInput(f"bundle {path} names a trust file {name!r} outside it; {DAMAGED}")
    try:
        return load_file(str(Path(path) / name))
    except (SafetensorError, OSError) as exc:
        raise InvalidInput(f"bundle {path}: its trust record's {name} cannot be read ({brief(exc)}); "
                           f"refit it with robustune calibrate {path} --data DATA, or {DAMAGED}") from exc


BUILD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, OverflowError)
DAMAGED = "the bundle is damaged: retrain it or restore its files"


def validate_meta(meta: Any, where: str) -> BundleMeta:
    """The typed metadata; a missing, mistyped or out-of-range field raises one line naming it."""
    if isinstance(meta, dict) and "format_version" in meta and meta["format_version"] != FORMAT_VERSION \
            and isinstance(meta["format_version"], int) and not isinstance(meta["format_version"], bool):
        raise Unsupported(f"{where} has format {meta['format_version']}, this robustune reads "
                          f"{FORMAT_VERSION}; use the robustune version that wrote it")
    return from_dict(BundleMeta, meta, where, DAMAGED)


def read_meta(path: Path) -> BundleMeta:
    """The bundle's metadata, checked field by field (no weights read), with clear errors for a missing
    or foreign folder."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"bundle {path} does not exist; pass the {opt('out')} folder of a training run",
                       field="bundle")
    meta_file = path / META_FILE
    if not path.is_dir() or not meta_file.is_file():
        raise NotFound(f"{path} is not a robustune bundle (no {META_FILE}); pass a bundle folder")
    return validate_meta(jsonio.read_json(meta_file, DAMAGED), f"bundle {path}")


def _weight_shapes(file: Path, where: str) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from the safetensors header (no tensor is read)."""
    if not file.is_file():
        raise InvalidInput(f"{where} has no {file.name}; {DAMAGED}")
    try:
        with safe_open(str(file), framework="pt") as fh:
            return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise InvalidInput(f"weights of {where} cannot be read ({brief(exc)}); {DAMAGED}") from exc


def _skeleton(spec: ModelSpec, arch: dict[str, Any], where: str) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the architecture, built on the meta device (nothing allocated).

    A bundle names its model by registry or timm name, never by a path or hub id.
    """
    from plugins.backbones.timm_image import is_timm_name
    from plugins.registry import registry

    name = spec.backbone
    if not (registry.has("backbone", name) or (":" not in name and "/" not in name and is_timm_name(name))):
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise InvalidInput(f"{where}: field model.backbone {shown!r} is not a registered model or timm "
                           f"architecture; {DAMAGED}")
    try:
        with torch.device("meta"):
            model = build_classifier(spec, arch)
    except RobustuneError as exc:
        raise InvalidInput(f"{where}: {brief(exc)}") from exc
    except BUILD_ERRORS as exc:
        raise InvalidInput(f"{where}: field arch does not describe a buildable model "
                           f"({type(exc).__name__}: {brief(exc)}); {DAMAGED}") from exc
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_weights_fit(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]],
                      where: str) -> None:
    """Every tensor present, none extra, every shape equal; else one line naming the first."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [f"{k} {found[k]} vs {expected[k]}" for k in expected
              if k in found and found[k] != expected[k]]
    parts = [f"missing {missing[:3]}" if missing else "",
             f"unexpected {unexpected[:3]}" if unexpected else "",
             f"shapes {'; '.join(shapes[:2])}" if shapes else ""]
    if any(parts):
        raise InvalidInput(f"weights of {where} do not fit its robustune.json "
                           f"({', '.join(p for p in parts if p)}); {DAMAGED}")


def load_tokenizer(path: Path, where: str, embeddings: int | None = None) -> Any:
    """The bundle's own tokenizer (never the Hub), checked against the model's embedding rows."""
    folder = Path(path) / TOKENIZER_DIR
    if not folder.is_dir() or not any(folder.iterdir()):
        raise InvalidInput(f"{where} is a text bundle without its {TOKENIZER_DIR}/ folder; {DAMAGED}")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception for corrupt files
        first = brief(exc)
        raise InvalidInput(f"the tokenizer of {where} cannot be loaded ({first}); {DAMAGED}") from exc
    if embeddings is not None and len(tokenizer) > embeddings:
        raise InvalidInput(f"the tokenizer of {where} has {len(tokenizer)} tokens but the model embeds "
                           f"only {embeddings}; {DAMAGED}")
    return tokenizer


def load_bundle(path: Path) -> Bundle:
    """Rebuild the model from the registry and JSON, then load the weights strictly.

    The architecture is first built on the meta device and compared with the weights file's
    header, so a damaged robustune.json never allocates a model it cannot fill.
    """
    path = Path(path)
    info = read_meta(path)
    where = f"bundle {path}"
    found = _weight_shapes(path / WEIGHTS_FILE, where)
    check_weights_fit(_skeleton(info.model, info.arch, where), found, where)
    model = build_classifier(info.model, info.arch)
    try:
        missing, unexpected = load_model(model, str(path / WEIGHTS_FILE), strict=False)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise InvalidInput(f"weights of bundle {path} cannot be loaded ({brief(exc)}); {DAMAGED}") from exc
    if missing or unexpected:
        raise InvalidInput(
            f"weights of bundle {path} do not fit its architecture (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}); {DAMAGED}"
        )
    model.eval()
    tokenizer = None
    if info.modality == "text":
        rows = getattr(model.get_input_embeddings(), "num_embeddings", None)  # type: ignore[operator]
        tokenizer = load_tokenizer(path, where, rows)
    return Bundle(path, model, info, tokenizer, load_trust_tensors(path, info))
