"""The ``lbfgs`` recipe: a linear probe solved rather than stepped.

Multinomial logistic regression on the cached features by full-batch L-BFGS, with its L2 strength
chosen on the validation split from a log grid, then refit on train + validation with that
strength: the linear-probe protocol of CLIP (Radford et al. 2021). For the solver the features are
centred and divided by one number (their root-mean-square size), which keeps their geometry (a
per-feature standardization lost 2 points on digits: it inflates near-silent features); both
are folded back into the head's Linear layer, so the bundle is the same as any linear probe's.
The linear-probe adapter asks for this recipe; ``--recipe supervised`` trains the head with AdamW
epochs instead.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finetune.recipes.base import FitContext, FitOutcome
from finetune.trainer import History, balanced_weights
from plugins.classifier import Classifier
from plugins.errors import Unsupported, opt

# L2 penalty on the mean loss, strongest first: 100 ... 1e-7
GRID = tuple(10.0 ** k for k in range(2, -8, -1))
MAX_ITER = 100  # L-BFGS iterations per fit (warm-started along the grid, most stop well before)


def _linear(head: nn.Module) -> nn.Linear | None:
    """The head's one Linear layer, if the head is dropout plus one Linear (the ``linear`` head)."""
    layers = [m for m in head.modules() if m is not head and any(True for _ in m.parameters(recurse=False))]
    return layers[0] if len(layers) == 1 and isinstance(layers[0], nn.Linear) else None


def solve(x: Tensor, y: Tensor, num_classes: int, l2: float, start: tuple[Tensor, Tensor] | None = None,
          weight: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Weights and bias minimizing mean cross-entropy + ``l2`` / 2 * |W|^2 (the bias is not penalized).

    Shape: x (N, F) centred, scaled features, y (N,) -> W (K, F), b (K,).
    """
    w = (start[0].clone() if start else torch.zeros(num_classes, x.shape[1])).requires_grad_(True)
    b = (start[1].clone() if start else torch.zeros(num_classes)).requires_grad_(True)
    solver = torch.optim.LBFGS([w, b], lr=1.0, max_iter=MAX_ITER, history_size=20, tolerance_grad=1e-6,
                               tolerance_change=1e-10, line_search_fn="strong_wolfe")

    def objective() -> Tensor:
        solver.zero_grad()
        loss = F.cross_entropy(F.linear(x, w, b), y, weight=weight) + 0.5 * l2 * w.pow(2).sum()
        loss.backward()
        return loss

    solver.step(objective)
    return w.detach(), b.detach()


def _set(linear: nn.Linear, fit: tuple[Tensor, Tensor], mean: Tensor, std: Tensor) -> None:
    """Put a fit on scaled features into ``linear``: ((x - mean) / std) W^T + b, folded."""
    w, b = fit
    with torch.no_grad():
        linear.weight.copy_(w / std)
        linear.bias.copy_(b - (w / std) @ mean)


def _score(x: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of the linear model on ``x``."""
    with torch.no_grad():
        logits = F.linear(x, w, b)
        return float((logits.argmax(1) == y).float().mean()), float(F.cross_entropy(logits, y))


class LBFGSProbe:
    """Logistic regression on cached features, L2 strength chosen on validation, refit on train + val."""

    name = "lbfgs"
    settings: tuple[str, ...] = ()  # no epochs, learning rate or batches: the L2 strength is chosen on val

    def check(self, model: Classifier, has_unlabeled: bool) -> None:
        """Only a linear head on cached features can be solved this way."""
        if _linear(model.head) is None:
            raise Unsupported(f"the lbfgs recipe solves a linear head; this head has more layers: use "
                              f"{opt('recipe')} supervised (AdamW epochs) or {opt('head')} linear",
                              field="recipe")

    def fit(self, ctx: FitContext) -> FitOutcome:
        if not ctx.plan.cache_features or "features" not in ctx.train:
            raise Unsupported("the lbfgs recipe solves a head on cached features (the linear-probe "
                              f"adapter); with another {opt('adapter')} use {opt('recipe')} supervised",
                              field="recipe")
        linear = _linear(ctx.model.head)
        assert linear is not None  # check() ran
        ctx.events.log("linear probe solved by L-BFGS (the epochs, learning rate, batch size and patience "
                       f"settings are for {opt('recipe')} supervised)")
        start = time.perf_counter()
        xt, xv = ctx.train["features"].float(), ctx.val["features"].float()
        yt, yv = ctx.y_train, ctx.y_val
        both = torch.cat([xt, xv])
        mean = both.mean(0)
        std = (both - mean).pow(2).sum(1).mean().sqrt().clamp_min(1e-6)  # one scale for every feature
        zt, zv = (xt - mean) / std, (xv - mean) / std
        weight = balanced_weights(yt, ctx.num_classes) if ctx.train_cfg.class_weights else None
        rows: list[dict[str, float]] = []
        fits: list[tuple[Tensor, Tensor]] = []

        def trial(l2: float, start: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
            ctx.events.check()
            fit = solve(zt, yt, ctx.num_classes, l2, start, weight)
            train_acc, train_loss = _score(zt, yt, *fit)
            val_acc, val_loss = _score(zv, yv, *fit)
            rows.append({"epoch": len(rows) + 1, "l2": l2, "train_loss": train_loss,
                         "train_accuracy": train_acc, "val_loss": val_loss, "val_accuracy": val_acc})
            fits.append(fit)
            ctx.events.metric("epoch", step=len(rows), of=len(GRID) + 2, **rows[-1])
            return fit

        def best_row() -> int:
            return max(range(len(rows)), key=lambda i: (rows[i]["val_accuracy"], -rows[i]["val_loss"]))

        current: tuple[Tensor, Tensor] | None = None
        for l2 in GRID:  # decades, strongest first: each fit warm-starts the next
            current = trial(l2, current)
        coarse = best_row()
        for l2 in (rows[coarse]["l2"] * 10 ** 0.5, rows[coarse]["l2"] / 10 ** 0.5):  # half-decades around it
            trial(l2, fits[coarse])
        best = best_row()
        l2 = rows[best]["l2"]
        ctx.events.log(f"lbfgs probe: L2 {l2:.3g} chosen on validation (accuracy "
                       f"{rows[best]['val_accuracy']:.4f}), refit on train + validation ({len(both)})")
        with torch.no_grad():
            val_logits = F.linear(zv, *fits[best])  # the fit chosen on train alone
        labels = torch.cat([yt, yv])
        refit_weight = balanced_weights(labels, ctx.num_classes) if ctx.train_cfg.class_weights else None
        refit = solve(torch.cat([zt, zv]), labels, ctx.num_classes, l2, fits[best], refit_weight)
        _set(linear, refit, mean, std)
        extra: dict[str, Any] = {"probe": {"solver": "lbfgs", "l2": l2, "grid": [r["l2"] for r in rows],
                                           "refit": "train+val", "seconds": time.perf_counter() - start,
                                           "selection_val_accuracy": rows[best]["val_accuracy"]}}
        return FitOutcome(History(rows, best + 1, False), extra, val_logits=val_logits)


recipe = LBFGSProbe()
