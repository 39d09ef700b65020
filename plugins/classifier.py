"""The Classifier contract: pixels in [0, 1] or token ids in, plain logits out."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from plugins.backbones.base import Backbone
from plugins.numerics import FP32, Numerics


class ImageClassifier(nn.Module):
    """Normalization inside, so attacks and attributions work in pixel space.

    Shape: (N, C, H, W) floats in [0, 1] -> (N, K) logits.
    """

    modality = "image"
    numerics: Numerics = FP32  # set by finetune.numerics.apply
    mean: Tensor
    std: Tensor

    def __init__(
        self, backbone: Backbone, head: nn.Module, mean: Sequence[float], std: Sequence[float]
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def use_numerics(self, numerics: Numerics) -> None:
        """Compute with ``numerics`` (autocast dtype, memory format) from now on."""
        self.numerics = numerics

    def forward_features(self, x: Tensor) -> Tensor:
        """Shape: (N, C, H, W) in [0, 1] -> (N, F) (float32 whatever the numerics)."""
        with self.numerics.autocast(x.device.type):
            return self.backbone((self.numerics.prepare(x) - self.mean) / self.std).float()  # type: ignore

    def forward_head(self, features: Tensor) -> Tensor:
        """Shape: (N, F) -> (N, K)."""
        return self.head(features)  # type: ignore[no-any-return]

    def forward(self, x: Tensor) -> Tensor:
        with self.numerics.autocast(x.device.type):
            return self.forward_head(self.forward_features(x)).float()


class TextClassifier(nn.Module):
    """Token ids in, logits out; also works on token embeddings for attacks and attributions.

    Shape: (N, L) ids, (N, L) mask -> (N, K) logits.
    """

    modality = "text"
    numerics: Numerics = FP32  # set by finetune.numerics.apply

    def __init__(self, backbone: Backbone, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.token_head = bool(getattr(head, "token_states", False))  # the head reads every token
        if self.token_head and not hasattr(backbone, "token_states"):
            from plugins.errors import InvalidInput, opt

            raise InvalidInput(f"this head reads token states, which backbone {backbone.name} does not "
                               "give; use it with bert (or another Hugging Face encoder), or "
                               f"{opt('head')} linear")

    def use_numerics(self, numerics: Numerics) -> None:
        """Compute with ``numerics`` (autocast dtype, int8 copies set it too) from now on."""
        self.numerics = numerics

    def get_input_embeddings(self) -> nn.Module:
        """The token-embedding layer."""
        return self.backbone.get_input_embeddings()  # type: ignore[operator,no-any-return]

    def forward_features(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Shape: (N, L), (N, L) -> (N, F)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        with self.numerics.autocast(input_ids.device.type):
            if self.token_head:
                states = self.backbone.token_states(attention_mask, input_ids=input_ids)  # type: ignore
                return with_mask(states.float(), attention_mask)
            return self.backbone(input_ids, attention_mask).float()  # type: ignore[no-any-return]

    def forward_head(self, features: Tensor) -> Tensor:
        """Shape: (N, F) -> (N, K)."""
        return self.head(features)  # type: ignore[no-any-return]

    def forward_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """Shape: (N, L, D) embeddings, (N, L) mask -> (N, K) logits."""
        with self.numerics.autocast(embeds.device.type):
            if self.token_head:
                states = self.backbone.token_states(attention_mask, inputs_embeds=embeds)  # type: ignore
                return self.forward_head(with_mask(states, attention_mask)).float()
            feats = self.backbone.forward_embeddings(embeds, attention_mask)  # type: ignore[operator]
            return self.forward_head(feats).float()

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        with self.numerics.autocast(input_ids.device.type):
            return self.forward_head(self.forward_features(input_ids, attention_mask)).float()


def with_mask(states: Tensor, attention_mask: Tensor) -> Tensor:
    """Token states with the mask as one more channel. Shape: (N, L, F), (N, L) -> (N, L, F + 1)."""
    return torch.cat([states, attention_mask.unsqueeze(-1).to(states.dtype)], -1)


Classifier = ImageClassifier | TextClassifier
