"""PGD on token embeddings: each token may move by ``eps`` times its own embedding norm (L2).

After FreeLB/"adversarial training for NLP" (Miyato et al. 2017; Zhu et al. 2020): the budget is
relative, so it means the same for models whose embeddings have different scales. Special
tokens and padding never move. A sample counts as fooled at the first step that fools it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from robustness.attacks.base import attack_mode
from robustness.attacks.text_base import TextAttack, TextOutcome, TextTarget


def _unit(v: Tensor) -> Tensor:
    """Per-token unit vectors. Shape: (N, L, D) -> same."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def perturb_embeddings(target: TextTarget, ids: Tensor, mask: Tensor, y: Tensor, eps: float,
                       steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """(perturbation, clean embeddings, editable mask). Shape: (N, L) -> (N, L, D), (N, L, D), (N, L)."""
    model = target.model
    emb = model.get_input_embeddings()(ids).detach()
    editable = (mask.bool() & ~target.special_mask(ids)).unsqueeze(-1)
    radius = eps * emb.norm(dim=-1, keepdim=True) * editable
    delta = _unit(torch.randn_like(emb)) * radius * torch.rand(*radius.shape[:2], 1, device=emb.device)
    kept = torch.zeros_like(delta)
    done = torch.zeros(len(ids), dtype=torch.bool, device=emb.device)
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            logits = model.forward_embeddings(emb + delta, mask)
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), delta)
        fooled = (logits.argmax(1) != y) & ~done
        kept[fooled], done = delta.detach()[fooled], done | fooled
        step = delta.detach() + 2.5 * radius / steps * _unit(grad)
        delta = step * (radius / step.norm(dim=-1, keepdim=True).clamp_min(1e-12)).clamp(max=1.0) * editable
    with torch.no_grad():
        fooled = (model.forward_embeddings(emb + delta, mask).argmax(1) != y) & ~done
    kept[fooled], done = delta[fooled], done | fooled
    kept[~done] = delta[~done]
    return kept, emb, editable.squeeze(-1)


class EmbeddingPGD(TextAttack):
    """PGD on token embeddings, L2 per token, budget relative to the token's embedding norm."""

    name = "embedding-pgd"

    def run(self, target: TextTarget, texts: list[str], y: torch.Tensor,
            eps: list[float]) -> dict[float, TextOutcome]:
        out: dict[float, TextOutcome] = {}
        steps, size = self.cfg.steps, self.cfg.batch_size
        for budget in eps:
            correct, rel, bad = [], [], 0
            with attack_mode(target.model, self.cfg.seed):
                for i in range(0, len(texts), size):
                    ids, mask = target.encode(texts[i : i + size])
                    yb = y[i : i + size].to(ids.device)
                    delta, emb, editable = perturb_embeddings(target, ids, mask, yb, budget, steps)
                    with torch.no_grad():
                        logits = target.model.forward_embeddings(emb + delta, mask)
                    correct.append((logits.argmax(1) == yb).cpu())
                    ratio = delta.norm(dim=-1) / emb.norm(dim=-1).clamp_min(1e-12)
                    rel.append(ratio.amax(1).cpu())
                    touched = (delta.abs().amax(-1) > 0) & ~editable
                    bad += int(((ratio.amax(1) > budget + 1e-6) | touched.any(1)).sum())
            n = len(texts)
            out[budget] = TextOutcome(torch.cat(correct), torch.zeros(n, dtype=torch.long),
                                      torch.full((n,), steps + 2, dtype=torch.long), torch.cat(rel),
                                      violations=bad)
        return out


attack = EmbeddingPGD
