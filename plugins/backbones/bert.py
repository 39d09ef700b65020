"""BERT-family text backbones from Hugging Face transformers (default: packaged MiniLM)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from plugins.assets import available, locate
from plugins.backbones.base import Backbone
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, brief, opt
from plugins.weights import fit_state_dict, pickled_refusal, read_state_dict

DEFAULT_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
POOLINGS = ("mean", "cls")


class HFTextBackbone(Backbone):
    """An HF encoder with pooling. Shape: (N, L) ids, (N, L) mask -> (N, hidden)."""

    modality = "text"
    model: Any  # a transformers PreTrainedModel

    def __init__(self, model: Any, tokenizer: Any, pooling: str, max_length: int) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise InvalidInput(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.max_length = max_length
        self.name = str(getattr(model.config, "_name_or_path", "bert")) or "bert"
        self.num_features = int(model.config.hidden_size)

    def get_input_embeddings(self) -> nn.Module:
        """The token-embedding layer (attacks and attributions work on its output)."""
        return self.model.get_input_embeddings()  # type: ignore[no-any-return]

    def _pool(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)

    def forward_features(self, *inputs: Tensor) -> Tensor:
        input_ids, attention_mask = inputs
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return self._pool(out.last_hidden_state, attention_mask)

    def token_states(self, attention_mask: Tensor, input_ids: Tensor | None = None,
                     inputs_embeds: Tensor | None = None) -> Tensor:
        """The last layer's state of every token. Shape: (N, L) ids or (N, L, D) -> (N, L, hidden)."""
        out = self.model(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask)
        return out.last_hidden_state  # type: ignore[no-any-return]

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Features from token embeddings. Shape: (N, L, D), (N, L) -> (N, hidden)."""
        out = self.model(inputs_embeds=embeds, attention_mask=attention_mask)
        return self._pool(out.last_hidden_state, attention_mask)

    def blocks(self) -> list[list[nn.Module]]:
        layers = list(self.model.encoder.layer)
        groups: list[list[nn.Module]] = [[self.model.embeddings]]
        groups += [[layer] for layer in layers]
        pooler = getattr(self.model, "pooler", None)
        if pooler is not None:
            groups[-1].append(pooler)
        return groups

    def preprocessing(self) -> dict[str, Any]:
        return {"modality": "text", "max_length": self.max_length, "tokenizer": "tokenizer"}

    def arch(self) -> dict[str, Any]:
        return {"hf_config": self.model.config.to_dict(), "pooling": self.pooling}


def _hf() -> Any:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _from_pretrained(source: str, what: str) -> tuple[nn.Module, Any]:
    tf = _hf()
    local = Path(source).is_dir()  # a folder never reaches for the Hub
    try:
        model = tf.AutoModel.from_pretrained(source, local_files_only=local)
        tokenizer = tf.AutoTokenizer.from_pretrained(source, local_files_only=local)
    except pickle.UnpicklingError as exc:
        raise pickled_refusal(source) from exc
    except (OSError, ValueError, RuntimeError, EOFError) as exc:
        first = brief(exc)
        raise InvalidInput(
            f"cannot load a Hugging Face model from {what} {source!r} ({first}); "
            f"pass a folder with config.json, tokenizer and weights, or {opt('weights')} packaged"
        ) from exc
    return model, tokenizer


def _default_source(cfg: BackboneConfig) -> str:
    if cfg.model_id:
        return cfg.model_id
    return str(locate("minilm")) if available("minilm") else DEFAULT_HUB_ID


def create_bert(cfg: BackboneConfig, arch: dict[str, Any] | None = None) -> HFTextBackbone:
    """A BERT-family backbone from packaged, hub, a local HF folder/file, or bare ``arch``."""
    tf = _hf()
    if arch is not None:
        config = tf.AutoConfig.for_model(**arch["hf_config"])
        model = tf.AutoModel.from_config(config)
        return HFTextBackbone(model, None, arch.get("pooling", "mean"), cfg.max_length)
    source = cfg.weights
    if source in ("auto", "packaged"):
        if source == "packaged" or available("minilm"):
            model, tok = _from_pretrained(str(locate("minilm")), "packaged")
            name, origin = DEFAULT_HUB_ID, "packaged"
        else:
            name, origin = cfg.model_id or DEFAULT_HUB_ID, "hub"
            model, tok = _from_pretrained(name, "hub id")
    elif source == "hub":
        name, origin = cfg.model_id or DEFAULT_HUB_ID, "hub"
        model, tok = _from_pretrained(name, "hub id")
    elif source == "none":
        base = _default_source(cfg)
        config = tf.AutoConfig.from_pretrained(base)
        model, tok = tf.AutoModel.from_config(config), tf.AutoTokenizer.from_pretrained(base)
        name, origin = _display_name(base), "random init"
    elif Path(source).is_dir() and (Path(source) / "config.json").is_file():
        model, tok = _from_pretrained(source, "folder")
        name, origin = Path(source).name, "local folder"
    else:
        base = _default_source(cfg)
        model = tf.AutoModel.from_config(tf.AutoConfig.from_pretrained(base))
        sd = fit_state_dict(model, read_state_dict(Path(source)), source)
        model.load_state_dict(sd, strict=True)
        tok = tf.AutoTokenizer.from_pretrained(base)
        name, origin = _display_name(base), f"weights from {Path(source).name}"
    backbone = HFTextBackbone(model, tok, cfg.pooling, cfg.max_length)
    backbone.name, backbone.source = name, origin
    return backbone


def _display_name(source: str) -> str:
    """A hub id as it is; the packaged MiniLM by its hub id; a folder by its name."""
    if available("minilm") and source == str(locate("minilm")):
        return DEFAULT_HUB_ID
    return Path(source).name if Path(source).is_dir() else source


create_bert.modality = "text"  # type: ignore[attr-defined]
# full fine-tuning: a few epochs, the encoder at 1/20 of the head's rate (bench/bench_defaults.py measures it)
create_bert.training_defaults = {  # type: ignore[attr-defined]
    "full/*": {"epochs": 4, "lr": 1e-3, "backbone_lr_mult": 0.05},
}


def is_hf_dir(name: str) -> bool:
    """Whether ``name`` is a local Hugging Face model folder (False for names no path can have)."""
    try:
        return Path(name).is_dir() and (Path(name) / "config.json").is_file()
    except (OSError, ValueError):  # too long, or a NUL byte
        return False
