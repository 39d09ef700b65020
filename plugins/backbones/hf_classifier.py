"""A whole Hugging Face sequence-classification model as a backbone whose features are its logits.

Used by ``robustune import --hf DIR``: the model keeps its own classification head (BERT's pooler,
RoBERTa's dense + out_proj, DistilBERT's pre_classifier), and the bundle adds the ``identity``
head, so attacks and attributions see exactly the model the user trained.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from plugins.backbones.base import Backbone
from plugins.backbones.bert import _default_source, _hf, is_hf_dir
from plugins.backbones.config import BackboneConfig
from plugins.errors import InvalidInput, brief
from plugins.weights import pickled_refusal

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model")


class HFSequenceClassifier(Backbone):
    """Shape: (N, L) ids, (N, L) mask -> (N, num_labels) logits."""

    modality = "text"
    model: Any  # a transformers PreTrainedModel with a classification head

    def __init__(self, model: Any, max_length: int, tokenizer: Any = None) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.name = str(getattr(model.config, "_name_or_path", "hf-sequence-classifier"))
        self.num_features = int(model.config.num_labels)

    def get_input_embeddings(self) -> nn.Module:
        """The token-embedding layer."""
        return self.model.get_input_embeddings()  # type: ignore[no-any-return]

    def forward_features(self, *inputs: Tensor) -> Tensor:
        input_ids, attention_mask = inputs
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits  # type: ignore[no-any-return]

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits from token embeddings. Shape: (N, L, D), (N, L) -> (N, num_labels)."""
        return self.model(inputs_embeds=embeds, attention_mask=attention_mask).logits  # type: ignore[no-any-return]

    def blocks(self) -> list[list[nn.Module]]:
        return [[m] for m in self.model.children()]

    def preprocessing(self) -> dict[str, Any]:
        return {"modality": "text", "max_length": self.max_length, "tokenizer": "tokenizer"}

    def arch(self) -> dict[str, Any]:
        return {"hf_config": self.model.config.to_dict()}


def load_hf_classifier(folder: str) -> tuple[Any, Any]:
    """(model, tokenizer) from a local sequence-classification folder, with clear errors."""
    tf = _hf()
    try:
        model = tf.AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
    except pickle.UnpicklingError as exc:
        raise pickled_refusal(folder) from exc
    except (OSError, ValueError, RuntimeError, EOFError, KeyError) as exc:
        raise InvalidInput(f"{folder} is not a Hugging Face sequence-classification folder "
                           f"({brief(exc)}); pass the folder save_pretrained wrote") from exc
    fix = "save the tokenizer there too: tokenizer.save_pretrained(folder)"
    if not any((Path(folder) / name).is_file() for name in TOKENIZER_FILES):
        raise InvalidInput(f"{folder} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); {fix}")
    try:
        tokenizer = tf.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception for corrupt files
        raise InvalidInput(f"{folder} has no usable tokenizer ({brief(exc)}); {fix}") from exc
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise InvalidInput(f"the tokenizer in {folder} has {len(tokenizer)} tokens but the model embeds "
                           f"only {rows}; save the tokenizer the model was trained with")
    return model, tokenizer


def create_hf_classifier(cfg: BackboneConfig, arch: dict[str, Any] | None = None) -> HFSequenceClassifier:
    """From a bundle's ``arch`` (no weights), the folder named by ``cfg.weights``, or else the
    default text model (packaged MiniLM) with a fresh classification head."""
    tf = _hf()
    if arch is not None:
        config = tf.AutoConfig.for_model(**arch["hf_config"])
        return HFSequenceClassifier(tf.AutoModelForSequenceClassification.from_config(config), cfg.max_length)
    model, tokenizer = load_hf_classifier(cfg.weights if is_hf_dir(cfg.weights) else _default_source(cfg))
    return HFSequenceClassifier(model, cfg.max_length, tokenizer)


create_hf_classifier.modality = "text"  # type: ignore[attr-defined]
