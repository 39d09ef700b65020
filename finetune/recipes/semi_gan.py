"""The ``semi-gan`` recipe: K+1-class discriminator with a feature-matching generator.

Salimans et al. (2016), "Improved techniques for training GANs": the K logits of the classifier
stand for the real classes and the fake class has a fixed logit 0, so
D(x) = Z(x) / (Z(x) + 1) with Z = sum_k exp(logit_k). The generator matches the mean of the
discriminator's last hidden features on unlabeled data. The bundle keeps the discriminator.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finetune.batches import model_args, num_examples
from finetune.checkpoint import Parts
from finetune.loop import EpochLoop, History, seed_epoch
from finetune.recipes.base import GRADIENT_SETTINGS, FitContext, FitOutcome
from finetune.trainer import finite_loss
from plugins.backbones.dbn import sizes
from plugins.backbones.gan import Generator
from plugins.classifier import Classifier
from plugins.errors import InvalidInput, opt


def unsupervised_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log D(real) - log(1 - D(fake)) with the fake logit fixed at 0. Shape: (N, K), (M, K) -> ()."""
    lse_real = torch.logsumexp(real_logits, 1)
    lse_fake = torch.logsumexp(fake_logits, 1)
    return (-lse_real + F.softplus(lse_real)).mean() + F.softplus(lse_fake).mean()


def feature_matching(real: Tensor, fake: Tensor) -> Tensor:
    """Squared distance of the batch means. Shape: (N, F), (M, F) -> ()."""
    return ((real.mean(0) - fake.mean(0)) ** 2).mean()


def adam(groups: list[dict[str, Any]], lr: float) -> torch.optim.Adam:
    """Adam with GAN betas over ``groups``, each at its own ``lr`` (``lr``: for a group without one); every
    group remembers its starting rate as ``base_lr`` (kept in checkpoints)."""
    optimizer = torch.optim.Adam([dict(g) for g in groups], lr=lr, betas=(0.5, 0.999))
    for group in optimizer.param_groups:
        group.setdefault("base_lr", group["lr"])
    return optimizer


def decay(optimizer: torch.optim.Optimizer, scale: float) -> None:
    """Every group at ``scale`` times its starting rate (the ratios between groups kept)."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * scale


class SemiGAN:
    """Labeled batches for cross-entropy, unlabeled batches for real-vs-fake, one generator step each."""

    name = "semi-gan"
    settings = GRADIENT_SETTINGS

    def check(self, model: Classifier, has_unlabeled: bool) -> None:
        opts = getattr(model.backbone, "opts", {})
        if model.modality != "image" or "z_dim" not in opts:
            raise InvalidInput(f"the semi-gan recipe trains a gan model on images; use {opt('model')} gan")
        if not has_unlabeled:
            raise InvalidInput(
                "the semi-gan recipe learns from unlabeled data, and this run has none; pass "
                f"{opt('labeled_per_class')} N so the rest of the training split is used unlabeled"
            )

    def fit(self, ctx: FitContext) -> FitOutcome:
        cfg, model, device = ctx.train_cfg, ctx.model, ctx.device
        opts: dict[str, Any] = getattr(model.backbone, "opts", {})
        torch.manual_seed(cfg.seed)
        size = int(getattr(model.backbone, "image_size", 0))
        gen_net = Generator(int(opts["z_dim"]), sizes(opts["gen_hidden"]), size).to(device)
        opt_d = adam(ctx.plan.param_groups, cfg.lr)  # each of the adapter's groups at its own rate
        opt_g = adam([{"params": list(gen_net.parameters()), "lr": cfg.lr, "name": "generator"}], cfg.lr)
        unlabeled = torch.cat([ctx.unlabeled["pixels"], ctx.train["pixels"]])  # type: ignore[index]
        parts = Parts({"model": model, "generator": gen_net}, {"d": opt_d, "g": opt_g})
        loop = EpochLoop(parts, cfg.epochs, cfg.seed, None, ctx.checkpoint_dir, ctx.events)

        def train_epoch(epoch: int) -> dict[str, float]:
            return self._epoch(ctx, epoch, gen_net, opt_d, opt_g, unlabeled, int(opts["z_dim"]))

        history = loop.run(train_epoch, lambda e: self._validate(ctx))
        extra = {"semi_gan": {"labeled": num_examples(ctx.train),
                              "unlabeled": len(unlabeled) - num_examples(ctx.train)}}
        return FitOutcome(History(history.epochs, history.best_epoch, False), extra)

    def _epoch(self, ctx: FitContext, epoch: int, gen_net: nn.Module, opt_d: torch.optim.Optimizer,
               opt_g: torch.optim.Optimizer, unlabeled: Tensor, z_dim: int) -> dict[str, float]:
        """One pass over the unlabeled data: a discriminator and a generator step per batch."""
        cfg, model, device = ctx.train_cfg, ctx.model, ctx.device
        labeled, y_lab = ctx.train["pixels"], ctx.y_train
        batch = cfg.batch_size
        steps = math.ceil(len(unlabeled) / batch)
        decay_from = cfg.epochs // 2
        scale = 1.0 if epoch < decay_from else (cfg.epochs - epoch) / max(1, cfg.epochs - decay_from)
        for optimizer in (opt_d, opt_g):
            decay(optimizer, scale)
        model.train()
        gen_net.train()
        gen = seed_epoch(cfg.seed, epoch)
        order = torch.randperm(len(unlabeled), generator=gen)
        lab_order = torch.cat([torch.randperm(len(labeled), generator=gen)
                               for _ in range(math.ceil(steps * batch / len(labeled)))])
        totals = [0.0, 0.0, 0.0]
        stage = f"semi-supervised GAN epoch {epoch + 1}/{cfg.epochs}"
        for step in range(steps):
            ctx.events.check()
            sel = order[step * batch:(step + 1) * batch]
            (x_unl,) = model_args({"pixels": unlabeled[sel]}, device)
            pick = lab_order[step * batch:(step + 1) * batch]
            (x_lab,) = model_args({"pixels": labeled[pick]}, device)
            y = y_lab[pick].to(device)
            z = torch.rand(len(x_unl), z_dim, device=device)
            fake = gen_net(z)
            sup = F.cross_entropy(model(x_lab), y)
            real_feats = model.forward_features(x_unl)
            unsup = unsupervised_loss(model.forward_head(real_feats), model(fake.detach()))
            loss_d = sup + unsup
            finite_loss(float(loss_d.detach()), epoch, cfg.lr)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            fm = feature_matching(real_feats.detach(), model.forward_features(gen_net(z)))
            opt_g.zero_grad(set_to_none=True)
            fm.backward()
            opt_g.step()
            totals = [t + float(v.detach()) for t, v in zip(totals, (sup, unsup, fm), strict=True)]
            ctx.events.progress(stage, step + 1, steps, overall=(epoch + (step + 1) / steps) / cfg.epochs)
        return {"train_loss": totals[0] / steps, "unsupervised_loss": totals[1] / steps,
                "feature_matching": totals[2] / steps}

    @torch.no_grad()
    def _validate(self, ctx: FitContext) -> dict[str, float]:
        from finetune.inference import predict_logits

        logits = predict_logits(ctx.model, ctx.val, ctx.train_cfg.eval_batch_size, ctx.device)
        return {"val_loss": float(F.cross_entropy(logits, ctx.y_val)),
                "val_accuracy": float((logits.argmax(1) == ctx.y_val).float().mean())}


recipe = SemiGAN()
