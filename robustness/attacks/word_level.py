"""A greedy word-substitution attack (after TextFooler, Jin et al. 2020, and DeepWordBug).

Words are ranked by how much deleting each lowers the true class's probability; in that order,
each word is replaced by whichever candidate lowers it most: the word's nearest neighbours in
the model's own input-embedding matrix, or a few character edits (swaps, deletions). It stops at
the first success or when the word budget (``eps`` x the number of words, at least one) is spent.
Words that are or contain special tokens are never touched. One greedy run answers every
budget: a smaller budget follows the same path and stops earlier.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import Tensor

from robustness.attacks.text_base import TextAttack, TextOutcome, TextTarget

ATTACKABLE = re.compile(r"^[A-Za-z][A-Za-z'-]*$")


def allowed_words(eps: float, n_words: int) -> int:
    """Words an attack may change under budget ``eps``: a fraction of the text, at least one."""
    return max(1, math.floor(eps * n_words + 1e-9))


def words_changed(original: str, adversarial: str) -> int:
    """Positions whose word differs (substitution keeps the word count)."""
    a, b = original.split(), adversarial.split()
    return sum(x != z for x, z in zip(a, b, strict=False)) + abs(len(a) - len(b))


def char_edits(word: str, limit: int) -> list[str]:
    """Up to ``limit`` typos of ``word``: inner swaps and deletions, interleaved, first letter kept."""
    swaps = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, len(word) - 1)]
    drops = [word[:i] + word[i + 1 :] for i in range(1, len(word))] if len(word) > 3 else []
    out: list[str] = []
    for pair in zip(swaps, drops + [""] * max(0, len(swaps) - len(drops)), strict=False):
        out += [c for c in pair if c and c != word and c not in out]
    return out[:limit]


class Neighbours:
    """Nearest whole-word tokens in the model's input-embedding matrix (cosine), cached."""

    def __init__(self, target: TextTarget, k: int) -> None:
        tok = target.tokenizer
        weight: Tensor = target.model.get_input_embeddings().weight  # type: ignore[assignment]
        weight = weight.detach().float().cpu()
        self.unit = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        vocab = tok.convert_ids_to_tokens(list(range(len(self.unit))))
        special = set(tok.all_special_ids)
        self.vocab = vocab
        self.clean = torch.tensor([i for i, t in enumerate(vocab) if i not in special and t.isalpha()
                                   and len(t) > 1 and t.isascii()], dtype=torch.long)
        self.k = k
        self.tokenizer = tok
        self._cache: dict[str, list[str]] = {}

    def __call__(self, word: str) -> list[str]:
        """Up to ``k`` substitutes for ``word`` (none when it is not a single vocabulary token)."""
        if word not in self._cache:
            ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            subs: list[str] = []
            if len(ids) == 1 and self.k > 0:
                sims = self.unit[self.clean] @ self.unit[ids[0]]
                order = self.clean[sims.argsort(descending=True)[: self.k + 1]].tolist()
                subs = [self.vocab[i] for i in order if i != ids[0]][: self.k]
                if word[:1].isupper():
                    subs = [s.capitalize() for s in subs]
            self._cache[word] = [s for s in subs if s.lower() != word.lower()]
        return self._cache[word]


@dataclass
class _Step:
    """The state after one word was tried: words changed so far, queries so far, the text."""

    changed: int
    queries: int
    text: str
    fooled: bool


class WordLevel(TextAttack):
    """Greedy word substitution by importance; embedding neighbours or character edits."""

    name = "word-level"
    norm = "words"
    needs_gradients = False

    def _protected(self, target: TextTarget, word: str) -> bool:
        return not ATTACKABLE.match(word) or any(s in word for s in target.tokenizer.all_special_tokens)

    def _greedy(self, target: TextTarget, text: str, label: int, budget: int,
                neighbours: Neighbours) -> list[_Step]:
        """The greedy path for one correctly classified text, one step per word tried."""
        words = text.split()
        p_true = float(target.probabilities([text])[0, label])
        steps = [_Step(0, 1, text, False)]
        spots = [i for i, w in enumerate(words) if not self._protected(target, w)]
        if not spots:
            return steps
        dropped = [" ".join(words[:i] + words[i + 1 :]) for i in spots]
        importance = p_true - target.probabilities(dropped)[:, label]
        queries, changed = 1 + len(spots), 0
        for j in importance.argsort(descending=True).tolist():
            i = spots[j]
            subs = neighbours(words[i]) + char_edits(words[i], self.cfg.char_edits)
            subs = [s for s in dict.fromkeys(subs) if s and s != words[i] and not self._protected(target, s)]
            if not subs:
                continue
            probs = target.probabilities([" ".join(words[:i] + [s] + words[i + 1 :]) for s in subs])
            queries += len(subs)
            best = int(probs[:, label].argmin())
            fooled = False
            if float(probs[best, label]) < p_true:
                words[i], p_true, changed = subs[best], float(probs[best, label]), changed + 1
                fooled = int(probs[best].argmax()) != label
            steps.append(_Step(changed, queries, " ".join(words), fooled))
            if fooled or changed >= budget:
                break
        return steps

    def run(self, target: TextTarget, texts: list[str], y: Tensor,
            eps: list[float]) -> dict[float, TextOutcome]:
        neighbours = Neighbours(target, self.cfg.neighbours)
        clean = target.probabilities(texts).argmax(1) == y.cpu()
        paths: list[list[_Step]] = []
        for text, label, ok in zip(texts, y.tolist(), clean.tolist(), strict=True):
            budget = allowed_words(max(eps), len(text.split()))
            paths.append(self._greedy(target, text, label, budget, neighbours) if ok
                         else [_Step(0, 1, text, True)])
        return {e: self._outcome(target, texts, paths, e) for e in eps}

    def _outcome(self, target: TextTarget, texts: list[str], paths: list[list[_Step]],
                 eps: float) -> TextOutcome:
        """Each path cut where the attack with budget ``eps`` would have stopped."""
        finals = []
        for text, path in zip(texts, paths, strict=True):
            budget = allowed_words(eps, len(text.split()))
            stop = next((s for s in path if s.fooled or s.changed >= budget), path[-1])
            finals.append(stop)
        adv = [s.text for s in finals]
        changed = torch.tensor([words_changed(t, a) for t, a in zip(texts, adv, strict=True)])
        over = sum(int(c) > allowed_words(eps, len(t.split())) for c, t in zip(changed, texts, strict=True))
        return TextOutcome(correct=torch.tensor([not s.fooled for s in finals]), words_changed=changed,
                           queries=torch.tensor([s.queries for s in finals]),
                           relative_norm=torch.zeros(len(texts)), texts=adv,
                           violations=over + special_tokens_moved(target, texts, adv))


def special_tokens_moved(target: TextTarget, texts: list[str], adv: list[str]) -> int:
    """Examples whose sequence of special tokens (padding aside) differs from the original's."""
    bad = 0
    for i in range(0, len(texts), target.batch_size):
        a, ma = target.encode(texts[i : i + target.batch_size])
        b, mb = target.encode(adv[i : i + target.batch_size])
        sa, sb = target.special_mask(a) & ma.bool(), target.special_mask(b) & mb.bool()
        pairs = zip(a, sa, b, sb, strict=True)
        bad += sum(int(ra[ka].tolist() != rb[kb].tolist()) for ra, ka, rb, kb in pairs)
    return bad


attack = WordLevel
