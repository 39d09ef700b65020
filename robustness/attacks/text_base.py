"""The text-attack contract: a text Classifier and its tokenizer, texts in, per-example outcomes out.

Text attacks work on a ``TextTarget`` (the model, its tokenizer and batching, with every model
query counted) and return one ``TextOutcome`` per budget, so one greedy run can answer a whole
curve. Special tokens ([CLS], [SEP], padding) are never perturbed or replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from plugins.classifier import TextClassifier
from plugins.errors import InvalidInput, opt


@dataclass(frozen=True)
class TextAttackConfig:
    """Effort shared by text attacks; budgets (``eps``) come per call.

    ``eps`` means: for embedding attacks, the per-token L2 budget relative to that token's
    embedding norm; for word-level attacks, the largest fraction of words that may change.
    """

    steps: int = 10
    neighbours: int = 15
    char_edits: int = 6
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise InvalidInput(f"attack steps must be at least 1, got {self.steps}")


@dataclass
class TextOutcome:
    """Per-example results of one attack at one budget. Shape: every tensor is (N,)."""

    correct: Tensor  # still classified correctly after the attack
    words_changed: Tensor  # words that differ from the original (0 for embedding attacks)
    queries: Tensor  # model forward passes spent on the example
    relative_norm: Tensor  # largest per-token ||delta|| / ||embedding|| (0 for word attacks)
    texts: list[str] | None = None  # adversarial texts (word-level attacks)
    violations: int = 0  # examples outside the budget or with a special token touched
    extra: dict[str, Any] = field(default_factory=dict)


class TextTarget:
    """A text Classifier with its tokenizer: tokenizes, batches, and counts model queries."""

    def __init__(self, model: TextClassifier, tokenizer: Any, max_length: int, batch_size: int = 32) -> None:
        if getattr(model, "modality", None) != "text":
            raise InvalidInput(f"text attacks need a text bundle; for images use {opt('attacks')} pgd,fgsm")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), device=self.device)

    def encode(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """Token ids and attention mask, padded to the longest text. Shape: -> (N, L), (N, L)."""
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def special_mask(self, ids: Tensor) -> Tensor:
        """True at special tokens ([CLS], [SEP], padding, ...). Shape: (N, L) -> (N, L) bool."""
        return torch.isin(ids, self.special_ids.to(ids.device))

    @torch.no_grad()
    def probabilities(self, texts: list[str]) -> Tensor:
        """Softmax over classes for each text (one query per text). Shape: -> (N, K)."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            ids, mask = self.encode(texts[i : i + self.batch_size])
            out.append(torch.softmax(self.model(ids, mask).float(), dim=1).cpu())
        return torch.cat(out) if out else torch.empty(0, 0)


class TextAttack:
    """An attack on a text Classifier; subclasses write ``run``."""

    name: ClassVar[str]
    modality: ClassVar[str] = "text"
    norm: ClassVar[str] = "relative L2"
    needs_gradients: ClassVar[bool] = True

    options: ClassVar[type | None] = None  # a frozen dataclass of the attack's own settings, if any

    def __init__(self, cfg: TextAttackConfig, options: Any = None) -> None:
        self.cfg = cfg
        self.opts = options if options is not None else (self.options() if self.options else None)

    def run(self, target: TextTarget, texts: list[str], y: Tensor,
            eps: list[float]) -> dict[float, TextOutcome]:
        """Attack every text at each budget in ``eps``. Shape: ``y`` is (N,)."""
        raise NotImplementedError
