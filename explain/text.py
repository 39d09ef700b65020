"""Text explanations: per-token scores merged from word pieces back to words.

Token scores come from an explainer's ``explain_tokens`` (layer integrated gradients on the
embedding layer, attention rollout); special tokens get none. Words are the tokenizer's own
words (``word_ids``), their text taken from the original string through the offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from explain.base import Explainer, explain_mode
from plugins.errors import InvalidInput, Unsupported, opt
from plugins.modes import device_of


@dataclass
class WordScores:
    """One text's words with their scores, and the class they explain."""

    text: str
    words: list[str]
    scores: list[float]
    target: int
    unknown: list[bool] = field(default_factory=list)  # per word: a piece of it is [UNK] to the model

    @property
    def unknown_share(self) -> float:
        """The share of words the model reads (at least partly) as the unknown token."""
        return sum(self.unknown) / len(self.unknown) if self.unknown else 0.0


def encode(tokenizer: Any, texts: list[str], max_length: int) -> Any:
    """Tokenizer output with offsets (needs a fast tokenizer)."""
    if not getattr(tokenizer, "is_fast", False):
        raise InvalidInput("text explanations need a fast (Rust) tokenizer to map pieces back to words")
    return tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                     return_offsets_mapping=True)


def merge_words(text: str, word_ids: list[int | None], offsets: Tensor,
                scores: Tensor) -> tuple[list[str], list[float]]:
    """Sum piece scores per word; the word's text is its span in ``text``. Shape: scores (L,)."""
    spans: dict[int, list[int]] = {}
    totals: dict[int, float] = {}
    for pos, wid in enumerate(word_ids):
        if wid is None:
            continue
        start, end = int(offsets[pos, 0]), int(offsets[pos, 1])
        span = spans.setdefault(wid, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        totals[wid] = totals.get(wid, 0.0) + float(scores[pos])
    order = sorted(spans)
    return [text[spans[w][0] : spans[w][1]] for w in order], [totals[w] for w in order]


def explain_texts(explainer: Explainer, model: nn.Module, tokenizer: Any, texts: list[str],
                  target: Tensor | None = None, max_length: int = 128) -> list[WordScores]:
    """Word scores for each text, for ``target`` (default: the predicted class)."""
    if "text" not in explainer.modalities:
        raise Unsupported(f"{explainer.name} explains images; for texts use {opt('method')} "
                          "integrated-gradients "
                          "or attention-rollout")
    out: list[WordScores] = []
    size = explainer.cfg.batch_size
    on = device_of(model)  # the texts run where the model is
    for i in range(0, len(texts), size):
        chunk = texts[i : i + size]
        enc = encode(tokenizer, chunk, max_length)
        ids, mask = enc["input_ids"].to(on), enc["attention_mask"].to(on)
        if target is None:
            with torch.no_grad():
                tb = model(ids, mask).argmax(1)
        else:
            tb = target[i : i + size].to(on)
        with explain_mode(model, explainer.cfg.seed):
            scores = explainer.explain_tokens(model, tokenizer, ids, mask, tb)
        special = torch.isin(ids, torch.tensor(sorted(set(tokenizer.all_special_ids)), device=on))
        scores = scores.masked_fill(special | ~mask.bool(), 0.0).cpu()
        unk = getattr(tokenizer, "unk_token_id", None)
        unknown = (ids == unk).float().cpu() if unk is not None else torch.zeros(ids.shape)
        for j, text in enumerate(chunk):
            words, values = merge_words(text, enc.word_ids(j), enc["offset_mapping"][j], scores[j])
            _, marks = merge_words(text, enc.word_ids(j), enc["offset_mapping"][j], unknown[j])
            out.append(WordScores(text, words, values, int(tb[j]), [m > 0 for m in marks]))
    return out
