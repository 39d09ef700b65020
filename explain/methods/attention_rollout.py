"""Attention rollout (Abnar and Zuidema 2020) for BERT-family models: attention maps averaged
over heads, mixed with the identity for the residual stream, multiplied through the layers; a
token's score is how much the first token ([CLS]) attends to it at the top."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from explain.base import Explainer
from plugins.errors import InvalidInput, opt


def hf_model(model: nn.Module) -> Any:
    """The Hugging Face transformer inside a text Classifier."""
    inner = getattr(getattr(model, "backbone", None), "model", None)
    if inner is None or not hasattr(inner, "set_attn_implementation"):
        raise InvalidInput("attention-rollout needs a BERT-family (Hugging Face) text model; "
                           f"use {opt('method')} integrated-gradients")
    return inner


def rollout(attentions: tuple[Tensor, ...], mask: Tensor) -> Tensor:
    """Scores from per-layer attentions. Shape: L x (N, H, T, T), (N, T) -> (N, T)."""
    n, t = mask.shape
    eye = torch.eye(t, device=mask.device).expand(n, t, t)
    joint = eye
    for layer in attentions:
        a = 0.5 * layer.mean(1) + 0.5 * eye
        a = a / a.sum(-1, keepdim=True)
        joint = a @ joint
    return joint[:, 0] * mask


class AttentionRollout(Explainer):
    """How much [CLS] attends to each token after all layers (no gradients)."""

    name = "attention-rollout"
    modalities = ("text",)

    def explain_tokens(self, model: nn.Module, tokenizer: Any, ids: Tensor, mask: Tensor,
                       target: Tensor) -> Tensor:
        inner = hf_model(model)
        before = inner.config._attn_implementation
        inner.set_attn_implementation("eager")  # sdpa returns no attention maps
        try:
            with torch.no_grad():
                out = inner(input_ids=ids, attention_mask=mask, output_attentions=True)
        finally:
            inner.set_attn_implementation(before)
        if not out.attentions:
            raise InvalidInput(f"the model returned no attention maps; use {opt('method')} "
                               "integrated-gradients")
        return rollout(tuple(a.float() for a in out.attentions), mask.float())


explainer = AttentionRollout
