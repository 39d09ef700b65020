"""Integrated gradients (Sundararajan et al. 2017): from a black image for images, on the token
embeddings from a padding reference for texts; internal batches sized to memory."""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import IntegratedGradients, LayerIntegratedGradients
from torch import Tensor, nn

from explain.base import Explainer, auto_internal_batch


class IntegratedGradientsExplainer(Explainer):
    """Path integral of gradients from a black image to the input (``n_steps``, Gauss-Legendre)."""

    name = "integrated-gradients"
    modalities = ("image", "text")

    def captum(self, model: nn.Module) -> Any:
        return IntegratedGradients(model)

    def kwargs(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        size = self.cfg.internal_batch_size or auto_internal_batch(model, x, self.cfg.n_steps)
        return {"baselines": torch.zeros_like(x), "n_steps": self.cfg.n_steps, "internal_batch_size": size}

    def explain_tokens(self, model: nn.Module, tokenizer: Any, ids: Tensor, mask: Tensor,
                       target: Tensor) -> Tensor:
        """Layer integrated gradients on the token embeddings from a reference where every
        non-special token is padding, summed over the embedding. Shape: (N, L) -> (N, L)."""
        special = torch.isin(ids, torch.tensor(sorted(set(tokenizer.all_special_ids)), device=ids.device))
        reference = torch.where(special, ids, torch.full_like(ids, int(tokenizer.pad_token_id or 0)))
        steps = self.cfg.n_steps
        size = self.cfg.internal_batch_size or auto_internal_batch(model, ids, steps, extra=(mask,))
        lig = LayerIntegratedGradients(model, model.get_input_embeddings())  # type: ignore[operator]
        attr = lig.attribute(ids, baselines=reference, target=target, additional_forward_args=(mask,),
                             n_steps=self.cfg.n_steps, internal_batch_size=size)
        return attr.sum(-1).detach()  # type: ignore[no-any-return]


explainer = IntegratedGradientsExplainer
