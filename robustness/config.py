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
