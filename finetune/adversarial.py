"""Adversarial training losses: PGD adversarial training (Madry et al. 2018) and TRADES
(Zhang et al. 2019). Both attack pixels, so they need an image model and uncached inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finetune.config import TrainConfig
from robustness.attacks.base import AttackConfig, project
from robustness.attacks.pgd import PGD

ADVERSARIAL = ("none", "pgd", "trades")


def trades_examples(model: nn.Module, x: Tensor, cfg: TrainConfig) -> Tensor:
    """Inputs in the eps-ball that maximize KL(f(x_adv) || f(x)). Shape: (N, C, H, W) -> same."""
    eps, steps = cfg.adv_eps, cfg.adv_steps
    alpha = 2.5 * eps / steps
    with torch.no_grad():
        target = F.softmax(model(x), dim=1)
    x_adv = (x + 0.001 * torch.randn_like(x)).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            kl = F.kl_div(F.log_softmax(model(x_adv), dim=1), target, reduction="sum")
            (grad,) = torch.autograd.grad(kl, x_adv)
        x_adv = project(x_adv.detach() + alpha * grad.sign(), x, eps, "Linf")
    return x_adv.detach()


def adversarial_loss(
    model: nn.Module, x: Tensor, y: Tensor, cfg: TrainConfig, loss_fn: Any,
    train_mode: Callable[[], None],
) -> tuple[Tensor, Tensor]:
    """(loss, logits for the accuracy shown). Examples are made in eval mode, the loss in train mode."""
    was = [p.requires_grad for p in model.parameters()]
    model.eval()
    if cfg.adversarial == "pgd":
        seed = int(torch.randint(0, 2**31 - 1, (1,)))  # from the epoch-seeded RNG: resumable
        x_adv = PGD(AttackConfig(eps=cfg.adv_eps, steps=cfg.adv_steps, seed=seed))(model, x, y)
    else:
        for p in model.parameters():
            p.requires_grad_(False)
        x_adv = trades_examples(model, x, cfg)
        for p, flag in zip(model.parameters(), was, strict=True):
            p.requires_grad_(flag)
    train_mode()
    if cfg.adversarial == "pgd":
        logits = model(x_adv)
        return loss_fn(logits, y), logits
    logits = model(x)
    robust = F.kl_div(F.log_softmax(model(x_adv), dim=1), F.softmax(logits, dim=1), reduction="batchmean")
    return loss_fn(logits, y) + cfg.trades_beta * robust, logits
