"""Galleries of correct and misclassified holdout examples, explained by the report's chosen method."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from explain.base import Explainer
from explain.document import Figure, Gallery, Highlighted, Section
from explain.render import Overlay, overlay
from explain.report_notes import NOTES
from explain.sections.config import ReportConfig
from explain.text import explain_texts
from plugins.bundle import Bundle


def image_overlays(model: nn.Module, x: Tensor, target: Tensor, titles: list[str],
                   method: Explainer) -> list[Overlay]:
    """Each image beside the blended heat map of ``method``'s attributions for ``target``.

    Shape: x (N, 3, H, W) in [0, 1], target (N,).
    """
    attr = method(model, x, target)
    return [overlay(x[i], attr[i], titles[i], method.name) for i in range(len(x))]


def _caption(names: list[str], label: int, pred: int) -> str:
    return f"true {names[label]}, predicted {names[pred]}"


def _image_gallery(bundle: Bundle, x: Tensor, labels: Tensor, pred: Tensor, pick: Tensor, title: str,
                   method: Explainer) -> Gallery:
    if len(pick) == 0:
        return Gallery([])
    captions = [_caption(bundle.labels, int(labels[i]), int(pred[i])) for i in pick.tolist()]
    pictures = image_overlays(bundle.model, x[pick], pred[pick], [""] * len(pick), method)  # captioned below
    return Gallery([Figure(p.png, f"{title}: {c}", f"{c}; {method.name}")
                    for p, c in zip(pictures, captions, strict=True)])


def _text_gallery(bundle: Bundle, texts: list[str], labels: Tensor, pred: Tensor, pick: Tensor,
                  method: Explainer) -> list[Highlighted]:
    if len(pick) == 0:
        return []
    chosen = [texts[i] for i in pick.tolist()]
    max_length = bundle.meta.max_length
    scored = explain_texts(method, bundle.model, bundle.tokenizer, chosen, pred[pick], max_length)
    return [Highlighted(_caption(bundle.labels, int(labels[i]), int(pred[i])), s.words, s.scores,
                        unknown=s.unknown)
            for s, i in zip(scored, pick.tolist(), strict=True)]


def confused_first(labels: Tensor, pred: Tensor, k: int) -> tuple[Tensor, list[tuple[tuple[int, int], int]]]:
    """Up to ``k`` misclassified examples, taken in turn from the most confused (true, predicted) pairs
    (the most frequent mistake first), and the pairs with their counts. Shape: (N,), (N,) -> (<= k,)."""
    wrong = torch.nonzero(pred != labels).flatten().tolist()
    by_pair: dict[tuple[int, int], list[int]] = {}
    for i in wrong:
        by_pair.setdefault((int(labels[i]), int(pred[i])), []).append(i)
    pairs = sorted(by_pair.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    picked: list[int] = []
    for turn in range(max((len(v) for _, v in pairs), default=0)):
        for _, members in pairs:
            if len(picked) < k and turn < len(members):
                picked.append(members[turn])
    return torch.tensor(picked, dtype=torch.long), [(pair, len(m)) for pair, m in pairs]


def gallery_sections(bundle: Bundle, pixels: Tensor | None, texts: list[str] | None, labels: Tensor,
                     pred: Tensor, cfg: ReportConfig, chosen: bool = False) -> list[Section]:
    """Two sections: correct and misclassified examples (images: ``pixels`` in [0, 1]; texts: ``texts``),
    explained by ``cfg.gallery_method`` (``chosen``: the user named it; else the page's most faithful).

    Shape: pixels (N, 3, H, W), labels (N,), pred (N,).
    """
    method = cfg.gallery_explainer()
    note = NOTES["gallery_text" if texts is not None else "gallery_image"].format(
        method=method.name, why=NOTES["gallery_chosen" if chosen else "gallery_why"])
    wrong, pairs = confused_first(labels, pred, cfg.gallery)
    classes = {int(labels[i]) for i in wrong.tolist()}  # correct examples of the confused classes first
    right_all = torch.nonzero(pred == labels).flatten()
    order = sorted(range(len(right_all)), key=lambda j: int(labels[right_all[j]]) not in classes)
    right = right_all[order][: cfg.gallery] if len(right_all) else right_all
    if pairs:
        names = bundle.labels
        note += " " + NOTES["gallery_confused"].format(pairs="; ".join(
            f"true {names[a]} read as {names[b]} ({n})" for (a, b), n in pairs[:3]))
    out = []
    for title, pick in (("Correct examples", right), ("Misclassified examples", wrong)):
        if texts is not None:
            items = _text_gallery(bundle, texts, labels, pred, pick, method)
            out.append(Section(title, list(items) or [Gallery([])], note))
        else:
            assert pixels is not None
            pictures = _image_gallery(bundle, pixels, labels, pred, pick, title, method)
            out.append(Section(title, [pictures], note))
    return out
