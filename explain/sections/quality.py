"""Which explanation to believe: attribution quality per method on holdout examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from explain.base import Explainer, explain_mode
from explain.document import Section, Strong, Table, para
from explain.methods.gradcam import find_layer
from explain.quality import QualityConfig, deletion_insertion, perturbation_metrics, token_curves
from explain.report_notes import NOTES
from explain.sections.config import ReportConfig, explainer
from explain.text import encode
from plugins.bundle import Bundle
from plugins.errors import RobustuneError


def best_method(rows: list[dict[str, Any]]) -> str | None:
    """The method whose deletion curve falls furthest below a random order's (None: no rows)."""
    if not rows:
        return None
    return str(min(rows, key=lambda r: r["deletion_auc"] - r["deletion_auc_random"])["method"])


def _bound(model: nn.Module, method: Explainer) -> Callable[[Tensor, Tensor], Tensor]:
    """The explainer as a function of inputs and target (for max-sensitivity)."""
    def explain(inputs: Tensor, target: Tensor) -> Tensor:
        return method(model, inputs, target)

    return explain


def quality_rows(model: nn.Module, x: Tensor, target: Tensor, cfg: ReportConfig) -> list[dict[str, Any]]:
    """Images, one row per method: deletion and insertion AUC against a random order, infidelity,
    max-sensitivity (Grad-CAM only where the model has a convolution).

    Shape: x (N, 3, H, W) in [0, 1], target (N,).
    """
    rows = []
    qcfg = QualityConfig(steps=16, n_perturb=4)
    for name in cfg.methods:
        if name == "gradcam":
            try:
                find_layer(model)
            except RobustuneError:
                continue
        method = explainer(name, cfg.n_steps)
        attr = method(model, x, target)
        row: dict[str, Any] = {"method": name, **deletion_insertion(model, x, target, attr, qcfg)}
        row.update(perturbation_metrics(model, x, target, attr, _bound(model, method), qcfg))
        rows.append(row)
    return rows


def quality_section(rows: list[dict[str, Any]], n: int, modality: str) -> Section:
    """The quality table of :func:`quality_rows` or :func:`text_quality_rows` and its verdict."""
    verdict = para("Most faithful by deletion here: ", Strong(best_method(rows) or "-"), ".")
    note = NOTES["quality_text" if modality == "text" else "quality"].format(n=n)
    return Section("Which explanation to believe", [Table(rows), verdict], note)


def text_quality_rows(bundle: Bundle, texts: list[str], target: Tensor,
                      cfg: ReportConfig) -> list[dict[str, Any]]:
    """Texts: token deletion and insertion curves per text explainer, against a random order."""
    tok = bundle.tokenizer
    enc = encode(tok, texts, bundle.meta.max_length)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    editable = mask.bool() & ~torch.isin(ids, torch.tensor(sorted(set(tok.all_special_ids))))
    rows: list[dict[str, Any]] = []
    for name in ("integrated-gradients", "attention-rollout"):
        method = explainer(name, cfg.n_steps)
        try:
            with explain_mode(bundle.model, 0):
                scores = method.explain_tokens(bundle.model, tok, ids, mask, target)
        except RobustuneError:
            continue  # attention rollout on a model without attention maps
        curves = token_curves(bundle.model, ids, mask, target, scores, editable, int(tok.pad_token_id or 0),
                              QualityConfig(steps=10))
        rows.append({"method": name, **curves})
    return rows
