"""Projected gradient descent with a random start (Madry et al. 2018), Linf."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchattacks
from torch import Tensor, nn

from robustness.attacks.base import Attack


class PGD(Attack):
    """Projected gradient descent with a random start (Madry et al. 2018), Linf.

    With ``early_stop`` (the audit's default) each sample keeps its first adversarial iterate and
    drops out of the batch; the random start is drawn for the whole batch first, as torchattacks
    draws it, so every sample follows torchattacks' own path until it is fooled (and a sample
    torchattacks fools is fooled here too). Without it, torchattacks' PGD runs as it is.
    """

    name = "pgd"

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return self.perturb_some(model, x, y, torch.ones(len(x), dtype=torch.bool, device=x.device))

    def perturb_some(self, model: nn.Module, x: Tensor, y: Tensor, active: Tensor) -> Tensor:
        c = self.cfg
        if not c.early_stop:
            adv = x.clone()
            if active.any():
                adv[active] = torchattacks.PGD(model, eps=c.eps, alpha=c.step_size, steps=c.steps,
                                               random_start=True)(x[active], y[active])
                self.spent += int(active.sum()) * c.steps
            return adv
        adv = (x + torch.empty_like(x).uniform_(-c.eps, c.eps)).clamp(0.0, 1.0)  # torchattacks' start
        adv[~active] = x[~active]
        live = active.clone()
        for step in range(c.steps + 1):
            idx = live.nonzero().flatten()
            if len(idx) == 0:
                break
            xa = adv[idx].clone().requires_grad_(True)
            logits = model(xa)
            fooled = logits.argmax(1) != y[idx]
            live[idx[fooled]] = False  # keeps its current (adversarial) iterate
            if step == c.steps or bool(fooled.all()):
                break
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, y[idx], reduction="sum"), xa)
            self.spent += len(idx)
            go = idx[~fooled]
            moved = adv[go] + c.step_size * grad[~fooled].sign()
            adv[go] = (x[go] + (moved - x[go]).clamp(-c.eps, c.eps)).clamp(0.0, 1.0)
        return adv


attack = PGD
