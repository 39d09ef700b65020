"""Sanity flags that keep a robustness number honest (after AutoAttack's and ART's checks)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Flag = dict[str, str]


def model_flags(model: nn.Module, x: Tensor, y: Tensor) -> list[Flag]:
    """Randomized outputs, probabilities instead of logits, vanishing input gradients."""
    flags: list[Flag] = []
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    if not torch.allclose(a, b, atol=1e-6):
        flags.append({"code": "randomized", "message": "two forward passes on the same input differ: "
                      "the model is randomized, so gradient attacks may underestimate it (use EOT)"})
    ones = torch.ones(len(a), device=a.device)
    if bool(((a >= 0) & (a <= 1)).all()) and torch.allclose(a.sum(1), ones, atol=1e-4):
        flags.append({"code": "probabilities", "message": "the model returns probabilities, not "
                      "logits: softmax saturation hides gradients; return logits"})
    norms = input_gradient_norms(model, x, y)
    share = float((norms < 1e-10).float().mean())
    if share > 0.1:
        flags.append({"code": "vanishing_gradients", "message": f"{share:.0%} of inputs have a zero "
                      "input gradient: gradient masking; trust black-box (square) results more"})
    return flags


def input_gradient_norms(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Per-example norm of d loss / d x; zeros where the output has no gradient path.

    Shape: (N, C, H, W), (N,) -> (N,).
    """
    xg = x.clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(xg)
        if logits.grad_fn is None:
            return torch.zeros(len(x), device=x.device)
        loss = F.cross_entropy(logits, y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, xg, allow_unused=True)
    return grad.flatten(1).norm(dim=1).detach() if grad is not None else torch.zeros(len(x), device=x.device)


def has_input_gradients(model: nn.Module, x: Tensor) -> bool:
    """Whether the model's output is differentiable with respect to its input at all."""
    xg = x[:1].clone().requires_grad_(True)
    with torch.enable_grad():
        out = model(xg)
        if out.grad_fn is None:
            return False
        (grad,) = torch.autograd.grad(out.sum(), xg, allow_unused=True)
    return grad is not None


def curve_flags(robust: dict[str, dict[float, float]], white_box: set[str], n: int) -> list[Flag]:
    """Robust accuracy rising with epsilon; a black-box attack beating every white-box one."""
    flags: list[Flag] = []
    tol = 1.0 / max(n, 1) + 1e-9
    for name, curve in robust.items():
        budgets = sorted(curve)
        rises = [(a, b) for a, b in zip(budgets, budgets[1:], strict=False) if curve[b] > curve[a] + tol]
        if rises:
            a, b = rises[0]
            flags.append({"code": "nonmonotonic", "message": f"{name}: robust accuracy rises from "
                          f"eps {a:.4g} ({curve[a]:.3f}) to {b:.4g} ({curve[b]:.3f}): the attack is "
                          "not converging (more steps or restarts)"})
    black = [n_ for n_ in robust if n_ not in white_box]
    white = [n_ for n_ in robust if n_ in white_box]
    for name in black:
        for eps, acc in sorted(robust[name].items()):
            best_white = min((robust[w][eps] for w in white if eps in robust[w]), default=None)
            if best_white is not None and acc < best_white - tol:
                flags.append({"code": "blackbox_beats_whitebox", "message": f"{name} (black-box) "
                              f"beats every white-box attack at eps {eps:.4g} ({acc:.3f} < "
                              f"{best_white:.3f}): a sign of gradient masking"})
                break
    return flags


def ball_flags(violations: dict[str, Any]) -> list[Flag]:
    """Attacks whose own results left the allowed ball or [0, 1] (projected back before they were
    scored, so the numbers hold, but the attack has a bug)."""
    return [{"code": "outside_ball", "message": f"{name}: {count} of its own example(s) fell outside the "
             "eps-ball or [0, 1] and were projected back before scoring; the attack has a bug"}
            for name, count in violations.items() if count]
