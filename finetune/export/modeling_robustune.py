"""A robustune text classifier as a Hugging Face model: any encoder, pooling over its tokens, a head.

``robustune export --format hf`` copies this file beside ``config.json`` (whose ``auto_map`` names
it), the weights and the tokenizer. It imports only torch and transformers, so the folder loads
anywhere with ``AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class RobustuneTextConfig(PretrainedConfig):
    """The encoder's own config (``encoder``), the pooling (mean or cls) and the head (linear or mlp)."""

    model_type = "robustune-text"

    def __init__(self, encoder: dict[str, Any] | None = None, pooling: str = "mean", head: str = "linear",
                 head_hidden: int = 256, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = dict(encoder or {})
        self.pooling, self.head, self.head_hidden = pooling, head, head_hidden


class RobustuneForSequenceClassification(PreTrainedModel):
    """Encoder -> pooled features -> head. Shape: (N, L) ids, (N, L) mask -> (N, K) logits."""

    config_class = RobustuneTextConfig
    base_model_prefix = "encoder"

    def __init__(self, config: RobustuneTextConfig) -> None:
        super().__init__(config)
        encoder = AutoConfig.for_model(**config.encoder)
        self.encoder = AutoModel.from_config(encoder)
        width, k = int(encoder.hidden_size), int(config.num_labels or 2)
        if config.head == "mlp":
            hidden = int(config.head_hidden)
            self.head = nn.Sequential(nn.Dropout(0.0), nn.Linear(width, hidden), nn.GELU(), nn.Dropout(0.0),
                                      nn.Linear(hidden, k))
        else:
            self.head = nn.Sequential(nn.Dropout(0.0), nn.Linear(width, k))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Weights come from the folder; nothing to initialise beyond PyTorch's defaults."""

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> SequenceClassifierOutput:
        assert input_ids is not None, "input_ids are required"
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        logits = self.head(pooled)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
