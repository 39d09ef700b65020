"""What a text model relies on across many examples: words that score high in most texts of one
predicted class (a watermark, a signature, a template phrase), confirmed by deleting them.

For each predicted class, its texts are explained (Integrated Gradients on the embeddings, merged to
words); a word is a candidate when it is in at least ``min_present`` of the class's texts and among
each text's ``top`` highest-scored words in at least ``min_top`` of those. Two interventions ask whether
the model needs it: the word deleted from the class's texts (does the prediction leave the class?) and
appended to other classes' texts (does it become the class?). A finding flips at least ``min_flips``
either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from explain.text import WordScores


@dataclass(frozen=True)
class TextShortcutConfig:
    """How word shortcuts are looked for."""

    per_class: int = 32  # texts explained per predicted class
    top: int = 3  # a text's highest-scored words
    min_present: float = 0.3  # share of the class's texts holding the word
    min_top: float = 0.5  # share of those where it is among the top words
    min_flips: float = 0.5
    candidates: int = 3  # words tested per class


@dataclass
class WordEvidence:
    """One candidate word of one predicted class."""

    cls: int
    word: str
    n: int  # texts of the class explained
    present: float
    top: float
    mean_score: float
    removed_flips: float
    inserted_flips: float
    inserted_n: int
    finding: bool = False
    examples: list[WordScores] = field(default_factory=list)


def _key(word: str) -> str:
    return word.strip().lower()


def _delete(text: str, word: str) -> str:
    return " ".join(re.sub(rf"(?i)(?<!\w){re.escape(word)}(?!\w)", " ", text).split())


def candidates(scored: list[WordScores], cfg: TextShortcutConfig) -> list[tuple[str, float, float, float]]:
    """(word, share of texts holding it, share where it is a top word, mean score), strongest first."""
    holding: dict[str, int] = {}
    topped: dict[str, int] = {}
    total: dict[str, float] = {}
    for s in scored:
        order = sorted(range(len(s.words)), key=lambda i: -s.scores[i])[: cfg.top]
        tops = {_key(s.words[i]) for i in order}
        for word in {_key(w) for w in s.words if any(c.isalnum() for c in w)}:
            holding[word] = holding.get(word, 0) + 1
            topped[word] = topped.get(word, 0) + (word in tops)
        for w, v in zip(s.words, s.scores, strict=True):
            total[_key(w)] = total.get(_key(w), 0.0) + v
    n = max(len(scored), 1)
    found = [(w, holding[w] / n, topped[w] / holding[w], total[w] / holding[w]) for w in holding
             if holding[w] / n >= cfg.min_present and topped[w] / holding[w] >= cfg.min_top]
    return sorted(found, key=lambda c: -(c[1] * c[2]))[: cfg.candidates]


def find_word_shortcuts(predict: Callable[[list[str]], Tensor], texts: list[str], pred: Tensor,
                        explain: Callable[[list[str], Tensor], list[WordScores]],
                        cfg: TextShortcutConfig | None = None) -> list[WordEvidence]:
    """Per predicted class (with at least 4 texts), its candidate words with their flip rates; ``predict``
    gives predicted classes for texts, ``explain`` word scores for texts and targets. Shape: pred (N,)."""
    cfg = cfg or TextShortcutConfig()
    out: list[WordEvidence] = []
    for cls in pred.unique().tolist():
        idx = torch.nonzero(pred == cls).flatten()[: cfg.per_class].tolist()
        if len(idx) < 4:
            continue
        mine = [texts[i] for i in idx]
        scored = explain(mine, pred[idx])
        others = [texts[i] for i in torch.nonzero(pred != cls).flatten()[: cfg.per_class * 2].tolist()]
        for word, present, top, mean in candidates(scored, cfg):
            holding = [t for t in mine if _delete(t, word) != " ".join(t.split())]
            removed = float((predict([_delete(t, word) for t in holding]) != cls).double().mean()) \
                if holding else 0.0
            inserted = float((predict([f"{t} {word}" for t in others]) == cls).double().mean()) \
                if others else 0.0
            finding = max(removed, inserted) >= cfg.min_flips
            examples = [s for s in scored if word in {_key(w) for w in s.words}][:2]
            out.append(WordEvidence(int(cls), word, len(mine), present, top, mean, removed, inserted,
                                    len(others), finding, examples))
    return out
