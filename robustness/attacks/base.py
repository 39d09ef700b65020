"""The attack contract and the shared work every attack gets (after torchattacks' Attack).

``Attack.__call__`` puts the model in eval mode, turns off parameter gradients, seeds the RNG,
and guarantees the result: ``x_adv`` in [0, 1] and ``||x_adv - x||_p <= eps``. Subclasses write
only ``perturb``. ``Attack.raw`` is the same run without that guarantee (what the attack itself
returned), for tests that check each attack keeps its own contract.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from plugins.errors import InvalidInput
from plugins.modes import frozen_eval

NORMS = ("Linf", "L2")


@dataclass(frozen=True)
class AttackConfig:
    """Budget and effort. ``alpha`` defaults to 2.5 * eps / steps (Madry et al.)."""

    eps: float
    steps: int = 10
    alpha: float | None = None
    n_queries: int = 1000
    seed: int = 0
    early_stop: bool = False  # iterative attacks keep each sample's first adversarial example and stop

    def __post_init__(self) -> None:
        if not 0.0 < self.eps <= 1.0:
            raise InvalidInput(f"epsilon {self.eps:g} is outside (0, 1]; pixels are in [0, 1] (e.g. 8/255)")
        if self.steps < 1:
            raise InvalidInput(f"attack steps must be at least 1, got {self.steps}")

    @property
    def step_size(self) -> float:
        """The step size used by iterative attacks."""
        return self.alpha if self.alpha is not None else 2.5 * self.eps / self.steps


def perturbation_norm(delta: Tensor, norm: str) -> Tensor:
    """Per-example norm. Shape: (N, ...) -> (N,)."""
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "Linf" else flat.norm(p=2, dim=1)


def project(x_adv: Tensor, x: Tensor, eps: float, norm: str) -> Tensor:
    """Into the eps-ball around ``x`` and [0, 1]. Shape: (N, C, H, W) -> same."""
    delta = x_adv - x
    if norm == "Linf":
        delta = delta.clamp(-eps, eps)
    else:
        scale = (eps / perturbation_norm(delta, "L2").clamp_min(1e-12)).clamp(max=1.0)
        delta = delta * scale.view(-1, *([1] * (x.dim() - 1)))
    return (x + delta).clamp(0.0, 1.0)


def reject_over_budget(x_adv: Tensor, x: Tensor, eps: float, norm: str) -> Tensor:
    """For minimal-norm attacks: a perturbation larger than ``eps`` failed, so that sample gets the
    clean input back; the others are kept as they are. Shape: (N, C, H, W) -> same.
    """
    over = perturbation_norm(x_adv - x, norm) > eps
    return torch.where(over.view(-1, *([1] * (x.dim() - 1))), x, x_adv)


attack_mode = frozen_eval  # the shared mode for attacks (plugins/modes.py)


class Attack:
    """An image attack on a Classifier taking pixels in [0, 1]."""

    name: ClassVar[str]
    modality: ClassVar[str] = "image"
    norm: ClassVar[str] = "Linf"
    needs_gradients: ClassVar[bool] = True
    minimal_norm: ClassVar[bool] = False  # finds the smallest perturbation; over budget = failed

    options: ClassVar[type | None] = None  # a frozen dataclass of the attack's own settings, if any

    def __init__(self, cfg: AttackConfig, options: Any = None) -> None:
        self.cfg = cfg
        self.opts = options if options is not None else (self.options() if self.options else None)
        self.spent = 0  # gradient evaluations (white-box) or model queries (black-box), summed per sample

    def cost(self) -> int:
        """Gradient evaluations (or queries) one sample costs, for attacks that do not count their own."""
        return self.cfg.n_queries if not self.needs_gradients else self.cfg.steps

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """The attack itself. Shape: (N, C, H, W), (N,) -> (N, C, H, W)."""
        raise NotImplementedError

    def perturb_some(self, model: nn.Module, x: Tensor, y: Tensor, active: Tensor) -> Tensor:
        """Attack only the ``active`` samples; the others come back as they are. Attacks whose random
        draws must not depend on which samples are attacked override this.

        Shape: x (N, C, H, W), y (N,), active (N,) bool -> (N, C, H, W).
        """
        adv = x.clone()
        if active.any():
            adv[active] = self.perturb(model, x[active], y[active])
            self.spent += int(active.sum()) * self.cost()
        return adv

    def raw(self, model: nn.Module, x: Tensor, y: Tensor, done: Tensor | None = None,
            seeded: bool = True) -> Tensor:
        """What the attack itself returns, run as ``__call__`` runs it (mode, seed, ``done``) but
        before the budget is enforced: neither over-budget rejection nor projection. ``seeded=False``:
        the caller already runs its whole pass under one ``attack_mode`` (one random stream over all
        its batches, so on the CPU the examples do not depend on the batch size).

        Shape: x (N, C, H, W), y (N,), done (N,) bool -> same as x.
        """
        with attack_mode(model, self.cfg.seed) if seeded else nullcontext():
            x = x.detach()
            active = torch.ones(len(x), dtype=torch.bool) if done is None else ~done.cpu()
            return self.perturb_some(model, x, y, active.to(x.device)).detach()

    def enforce(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """The budget on a raw result: minimal-norm attacks lose over-budget samples to the clean
        input, then everything is projected into the eps-ball and [0, 1]. Shape: (N, C, H, W) -> same.
        """
        x = x.detach()
        if self.minimal_norm:
            x_adv = reject_over_budget(x_adv, x, self.cfg.eps, self.norm)
        return project(x_adv, x, self.cfg.eps, self.norm)

    def violations(self, x_adv: Tensor, x: Tensor) -> Tensor:
        """Which raw results break the attack's own contract: outside [0, 1], or (unless the attack finds
        minimal perturbations, whose over-budget results simply failed) outside the eps-ball.

        Shape: (N, C, H, W), (N, C, H, W) -> (N,) bool.
        """
        flat = x_adv.flatten(1)
        bad = (flat < 0).any(1) | (flat > 1).any(1) | ~flat.isfinite().all(1)
        if not self.minimal_norm:
            bad |= perturbation_norm(x_adv - x, self.norm) > self.cfg.eps + 1e-6
        return bad

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor, done: Tensor | None = None) -> Tensor:
        """Adversarial examples within the budget; samples marked ``done`` (already fooled: the
        caller keeps their examples) are not attacked and come back unchanged.

        Shape: x (N, C, H, W), y (N,), done (N,) bool -> same as x.
        """
        return self.enforce(self.raw(model, x, y, done), x)
