"""What an audit runs: which attacks at which budgets, and how hard (declarations only: no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugins.schema import require
from robustness.defaults import BATCH, IMAGE_EPS


@dataclass(frozen=True)
class AuditConfig:
    """Which attacks at which budgets, and how hard."""

    attacks: tuple[str, ...] = ("fgsm", "pgd")
    eps: tuple[float, ...] = IMAGE_EPS
    steps: int = 10
    n_queries: int = 1000
    batch_size: int = BATCH
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # attack name -> its options (declared ones)
    # False (the default): each budget attacks only the samples still correct at the previous one
    # (the others keep their adversarial examples) and iterative attacks stop per sample once it is
    # fooled; True: every sample at every budget, to the last step, as published numbers are made
    independent: bool = False

    def __post_init__(self) -> None:
        require(self, [("attacks", len(self.attacks) > 0, "needs at least one attack"),
                       ("eps", len(self.eps) > 0, "needs at least one budget"),
                       ("steps", self.steps >= 1, "must be at least 1"),
                       ("n_queries", self.n_queries >= 1, "must be at least 1"),
                       ("batch_size", self.batch_size >= 1, "must be at least 1"),
                       ("seed", 0 <= self.seed < 2**32, "must be between 0 and 2**32 - 1")])


@dataclass(frozen=True)
class SmoothingConfig:
    """Randomized smoothing's certification settings (Cohen, Rosenfeld and Kolter 2019): Gaussian noise of
    standard deviation ``sigma`` (pixel units, or embedding units for texts); ``n0`` noisy copies pick
    the class, ``n`` more bound its probability from below at confidence 1 - ``alpha``."""

    sigma: float = 0.25
    n0: int = 100
    n: int = 1000
    alpha: float = 0.001
    # noisy copies per forward pass (several inputs share one); None: sized for the model and device by
    # finetune.numerics.batch.certify_batch (robustness.certify alone then takes CHUNK)
    batch_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        require(self, [("sigma", self.sigma > 0, "must be above 0"),
                       ("n0", self.n0 >= 1, "must be at least 1"),
                       ("n", self.n >= 1, "must be at least 1"),
                       ("alpha", 0 < self.alpha < 0.5, "must be between 0 and 0.5"),
                       ("batch_size", self.batch_size is None or self.batch_size >= 1, "must be at least 1"),
                       ("seed", 0 <= self.seed < 2**32, "must be between 0 and 2**32 - 1")])
