"""Galleries of correct and misclassified holdout examples with their attributions."""

from __future__ import annotations

import torch
from torch import Tensor

from explain.document import Figure, Gallery, Highlighted, Section
from explain.render import overlay_png
from explain.report_notes import NOTES
from explain.sections.config import ReportConfig, integrated_gradients
from explain.text import explain_texts
from plugins.bundle import Bundle


def _image_gallery(bundle: Bundle, x: Tensor, labels: Tensor, pred: Tensor, pick: Tensor, title: str,
                   n_steps: int) -> Gallery:
    if len(pick) == 0:
        return Gallery([])
    attr = integrated_gradients(n_steps)(bundle.model, x[pick], pred[pick])
    names = bundle.labels
    return Gallery([Figure(overlay_png(x[i], attr[j], f"true {names[int(labels[i])]}, predicted "
                                                      f"{names[int(pred[i])]}"), title)
                    for j, i in enumerate(pick.tolist())])


def _text_gallery(bundle: Bundle, texts: list[str], labels: Tensor, pred: Tensor, pick: Tensor,
                  n_steps: int) -> list[Highlighted]:
    if len(pick) == 0:
        return []
    chosen = [texts[i] for i in pick.tolist()]
    max_length = int(bundle.meta["preprocessing"]["max_length"])
    scored = explain_texts(integrated_gradients(n_steps), bundle.model, bundle.tokenizer, chosen, pred[pick],
                           max_length)
    names = bundle.labels
    return [Highlighted(f"true {names[int(labels[i])]}, predicted {names[int(pred[i])]}", s.words, s.scores)
            for s, i in zip(scored, pick.tolist(), strict=True)]


def gallery_sections(bundle: Bundle, pixels: Tensor | None, texts: list[str] | None, labels: Tensor,
                     pred: Tensor, cfg: ReportConfig) -> list[Section]:
    """Two sections: correct and misclassified examples (images: ``pixels`` in [0, 1]; texts: ``texts``).

    Shape: pixels (N, 3, H, W), labels (N,), pred (N,).
    """
    right = torch.nonzero(pred == labels).flatten()[: cfg.gallery]
    wrong = torch.nonzero(pred != labels).flatten()[: cfg.gallery]
    out = []
    for title, pick in (("Correct examples", right), ("Misclassified examples", wrong)):
        if texts is not None:
            items = _text_gallery(bundle, texts, labels, pred, pick, cfg.n_steps)
            out.append(Section(title, list(items) or [Gallery([])], NOTES["gallery_text"]))
        else:
            assert pixels is not None
            out.append(Section(title, [_image_gallery(bundle, pixels, labels, pred, pick, title,
                                                      cfg.n_steps)],
                               NOTES["gallery_image"]))
    return out
