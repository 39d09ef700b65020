"""How much of a text a tokenizer cannot read: the share of its word pieces that become the unknown
token ([UNK]). A model cannot learn from, or be explained by, what it never sees: Chinese paragraphs
were 64.5% [UNK] for MiniLM's English WordPiece vocabulary."""

from __future__ import annotations

from typing import Any

HIGH = 0.2  # a share of unknown pieces above which training and recommend warn


def unknown_shares(tokenizer: Any, texts: list[str], max_length: int = 512) -> tuple[list[float], float]:
    """Per text, the share of its pieces (special tokens left out) that are the unknown token, and the
    share over all texts' pieces; zeros for a tokenizer without an unknown token."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return [0.0] * len(texts), 0.0
    special = set(getattr(tokenizer, "all_special_ids", [])) - {unk}
    shares, unknown, total = [], 0, 0
    for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]:
        pieces = [i for i in ids if i not in special]
        n_unk = sum(i == unk for i in pieces)
        shares.append(n_unk / len(pieces) if pieces else 0.0)
        unknown, total = unknown + n_unk, total + len(pieces)
    return shares, (unknown / total if total else 0.0)


def share_of_ids(tokenizer: Any, ids: Any, mask: Any) -> float:
    """The share of already tokenized pieces (special tokens and padding left out) that are the unknown
    token. Shape: (N, L) ids and mask."""
    import torch

    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return 0.0
    special = torch.tensor(sorted(set(getattr(tokenizer, "all_special_ids", [])) - {unk}), dtype=ids.dtype)
    pieces = mask.bool() & ~torch.isin(ids, special)
    n = int(pieces.sum())
    return float(((ids == unk) & pieces).sum()) / n if n else 0.0


def unknown_warning(share: float, what: str) -> str | None:
    """One line when ``share`` of ``what``'s pieces are unknown to the tokenizer (above ``HIGH``)."""
    if share <= HIGH:
        return None
    return (f"{share:.0%} of {what}'s word pieces are unknown to the model's tokenizer ([UNK]): the model "
            "cannot read them (a script its vocabulary lacks?); use a model whose tokenizer knows this "
            "script, e.g. a multilingual one imported with robustune import --hf")
