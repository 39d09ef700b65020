"""The ``dbn`` recipe: greedy layer-wise RBM pretraining with CD-k, then supervised fine-tuning."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from finetune.batches import model_args
from finetune.recipes.backprop import Supervised
from finetune.recipes.base import GRADIENT_SETTINGS, FitContext, FitOutcome
from plugins.classifier import Classifier
from plugins.errors import InvalidInput, opt


def train_rbm(layer: nn.Linear, data: Tensor, k: int, epochs: int, lr: float, batch: int,
              seed: int) -> list[float]:
    """Contrastive divergence (CD-k) on Bernoulli units; writes ``layer``'s weight and hidden bias.

    Shape: data (N, visible) in [0, 1]; layer: visible -> hidden. Returns the mean squared
    reconstruction error of each epoch.
    """
    gen = torch.Generator().manual_seed(seed)
    n_vis, n_hid = layer.in_features, layer.out_features
    w = torch.randn(n_hid, n_vis, generator=gen) * 0.01
    hb = torch.zeros(n_hid)
    vb = torch.logit(data.mean(0).clamp(1e-3, 1 - 1e-3))  # Hinton's visible-bias start
    vel = [torch.zeros_like(w), torch.zeros_like(hb), torch.zeros_like(vb)]
    errors = []
    for epoch in range(epochs):
        momentum = 0.5 if epoch < 5 else 0.9
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        for start in range(0, len(data), batch):
            v0 = data[order[start : start + batch]]
            ph0 = torch.sigmoid(v0 @ w.T + hb)
            h = torch.bernoulli(ph0, generator=gen)
            for step in range(k):
                pv = torch.sigmoid(h @ w + vb)
                if step == 0:
                    total += float(((v0 - pv) ** 2).sum())
                ph = torch.sigmoid(pv @ w.T + hb)
                h = torch.bernoulli(ph, generator=gen)
            grads = [(ph0.T @ v0 - ph.T @ pv) / len(v0), (ph0 - ph).mean(0), (v0 - pv).mean(0)]
            for vel_i, g, param in zip(vel, grads, (w, hb, vb), strict=True):
                vel_i.mul_(momentum).add_(g * lr)
                param.add_(vel_i)
            w.mul_(1 - lr * 2e-4)  # small weight decay, as in Hinton's guide
        errors.append(total / data.numel())
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(hb)
    return errors


class DBNRecipe:
    """Pretrain each layer of a ``dbn`` backbone as an RBM on the layer below, then backprop."""

    name = "dbn"
    settings = GRADIENT_SETTINGS

    def check(self, model: Classifier, has_unlabeled: bool) -> None:
        if not hasattr(model.backbone, "layers") or not hasattr(model.backbone, "visible"):
            raise InvalidInput("the dbn recipe pretrains a dbn model's layers as RBMs; use "
                               f"{opt('model')} dbn "
                               f"or {opt('recipe')} supervised")

    @torch.no_grad()
    def _visible(self, ctx: FitContext) -> Tensor:
        model, parts = ctx.model, []
        for inputs in (ctx.train, ctx.unlabeled or {}):
            if "pixels" in inputs:
                (x,) = model_args(inputs, torch.device("cpu"))
                parts.append(model.backbone.visible((x - model.mean) / model.std))  # type: ignore[union-attr,operator]
        return torch.cat(parts).float().contiguous()

    def fit(self, ctx: FitContext) -> FitOutcome:
        backbone = ctx.model.backbone
        opts: dict[str, Any] = getattr(backbone, "opts", {})
        h = self._visible(ctx)
        report = []
        for i, layer in enumerate(backbone.layers):  # type: ignore[union-attr,arg-type]
            ctx.events.check()
            ctx.events.progress("RBM pretraining", i, len(backbone.layers))  # type: ignore[arg-type]
            errors = train_rbm(layer, h, int(opts["cd_k"]), int(opts["rbm_epochs"]), float(opts["rbm_lr"]),
                               int(opts["rbm_batch"]), ctx.train_cfg.seed + i)
            report.append({"layer": i + 1, "visible": layer.in_features, "hidden": layer.out_features,
                           "reconstruction_error_first": errors[0], "reconstruction_error": errors[-1]})
            ctx.events.log(f"RBM {i + 1} ({layer.in_features} -> {layer.out_features}, CD-{opts['cd_k']}): "
                           f"reconstruction error {errors[0]:.4f} -> {errors[-1]:.4f}")
            ctx.events.metric("rbm", step=i + 1, **report[-1])
            with torch.no_grad():
                h = torch.sigmoid(layer(h))
        outcome = Supervised().fit(ctx)
        outcome.extra["rbm"] = report
        return outcome


recipe = DBNRecipe()
