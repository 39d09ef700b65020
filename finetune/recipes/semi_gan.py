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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor

from finetune.batches import model_args, num_examples
from finetune.recipes.base import FitContext, FitOutcome
from finetune.trainer import History, finite_loss
from plugins.backbones.dbn import sizes
from plugins.backbones.gan import Generator
from plugins.classifier import Classifier
from plugins.errors import RobustuneError


def unsupervised_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log D(real) - log(1 - D(fake)) with the fake logit fixed at 0. Shape: (N, K), (M, K) -> ()."""
    lse_real = torch.logsumexp(real_logits, 1)
    lse_fake = torch.logsumexp(fake_logits, 1)
    return (-lse_real + F.softplus(lse_real)).mean() + F.softplus(lse_fake).mean()


def feature_matching(real: Tensor, fake: Tensor) -> Tensor:
    """Squared distance of the batch means. Shape: (N, F), (M, F) -> ()."""
    return ((real.mean(0) - fake.mean(0)) ** 2).mean()


class SemiGAN:
    """Labeled batches for cross-entropy, unlabeled batches for real-vs-fake, one generator step each."""

    name = "semi-gan"

    def check(self, model: Classifier, has_unlabeled: bool) -> None:
        opts = getattr(model.backbone, "opts", {})
        if model.modality != "image" or "z_dim" not in opts:
            raise RobustuneError("the semi-gan recipe trains a gan model on images; use --model gan")
        if not has_unlabeled:
            raise RobustuneError(
                "the semi-gan recipe learns from unlabeled data, and this run has none; pass "
                "--labeled-per-class N so the rest of the training split is used unlabeled"
            )

    def fit(self, ctx: FitContext) -> FitOutcome:
        cfg, model, device = ctx.train_cfg, ctx.model, ctx.device
        opts: dict[str, Any] = getattr(model.backbone, "opts", {})
        torch.manual_seed(cfg.seed)
        size = int(getattr(model.backbone, "image_size", 0))
        gen_net = Generator(int(opts["z_dim"]), sizes(opts["gen_hidden"]), size).to(device)
        d_params = [p for g in ctx.plan.param_groups for p in g["params"]]
        opt_d = torch.optim.Adam(d_params, lr=cfg.lr, betas=(0.5, 0.999))
        opt_g = torch.optim.Adam(gen_net.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        unlabeled = torch.cat([ctx.unlabeled["pixels"], ctx.train["pixels"]])  # type: ignore[index]
        labeled, y_lab = ctx.train["pixels"], ctx.y_train
        batch = cfg.batch_size
        steps = math.ceil(len(unlabeled) / batch)
        decay_from = cfg.epochs // 2
        history, best, best_score = [], None, [-1.0, -math.inf]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=ctx.console, disable=not ctx.progress, transient=True) as bar:
            task = bar.add_task("semi-supervised GAN", total=cfg.epochs)
            for epoch in range(cfg.epochs):
                scale = 1.0 if epoch < decay_from else (cfg.epochs - epoch) / max(1, cfg.epochs - decay_from)
                for opt in (opt_d, opt_g):
                    for group in opt.param_groups:
                        group["lr"] = cfg.lr * scale
                model.train()
                gen_net.train()
                order = torch.randperm(len(unlabeled))
                lab_order = torch.cat([torch.randperm(len(labeled)) for _ in range(
                    math.ceil(steps * batch / len(labeled)))])
                totals = [0.0, 0.0, 0.0]
                for step in range(steps):
                    sel = order[step * batch:(step + 1) * batch]
                    (x_unl,) = model_args({"pixels": unlabeled[sel]}, device)
                    pick = lab_order[step * batch:(step + 1) * batch]
                    (x_lab,) = model_args({"pixels": labeled[pick]}, device)
                    y = y_lab[pick].to(device)
                    z = torch.rand(len(x_unl), int(opts["z_dim"]), device=device)
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
                record = self._validate(ctx, epoch, [t / steps for t in totals])
                history.append(record)
                score = [record["val_accuracy"], -record["val_loss"]]
                if score > best_score:
                    best_score, best = score, {k: v.detach().clone() for k, v in model.state_dict().items()}
                bar.update(task, advance=1, description=f"semi-supervised GAN epoch {epoch + 1} val acc "
                                                        f"{record['val_accuracy']:.3f}")
                if ctx.on_epoch_end is not None:
                    ctx.on_epoch_end(record)
        if best is not None:
            model.load_state_dict(best)
        best_epoch = max(range(len(history)), key=lambda i: [history[i]["val_accuracy"],
                                                              -history[i]["val_loss"]]) + 1
        extra = {"semi_gan": {"labeled": num_examples(ctx.train), "unlabeled": len(unlabeled) - len(labeled)}}
        return FitOutcome(History(history, best_epoch, False), extra)

    @torch.no_grad()
    def _validate(self, ctx: FitContext, epoch: int, losses: list[float]) -> dict[str, float]:
        from finetune.inference import predict_logits

        logits = predict_logits(ctx.model, ctx.val, ctx.train_cfg.eval_batch_size, ctx.device)
        return {"epoch": epoch + 1, "train_loss": losses[0], "unsupervised_loss": losses[1],
                "feature_matching": losses[2], "val_loss": float(F.cross_entropy(logits, ctx.y_val)),
                "val_accuracy": float((logits.argmax(1) == ctx.y_val).float().mean())}


recipe = SemiGAN()
