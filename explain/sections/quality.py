"""Which explanation to believe: attribution quality per method on holdout examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from explain.base import ExplainConfig, Explainer, explain_mode
from explain.document import Section, Strong, Table, para
from explain.methods.gradcam import find_layer
from explain.quality import QualityConfig, deletion_insertion, perturbation_metrics, token_curves
from explain.report_notes import NOTES
from explain.sections.config import ReportConfig
from explain.text import encode
from plugins.bundle import Bundle
from plugins.errors import RobustuneError
from plugins.registry import registry


def _best(rows: list[dict[str, Any]]) -> str:
    """The method whose deletion curve falls furthest below a random order's."""
    return str(min(rows,
                   key=lambda r: r["deletion_auc"] - r["deletion_auc_random"])["method"]) if rows else "-"


def _bound(bundle: Bundle, explainer: Explainer) -> Callable[[Tensor, Tensor], Tensor]:
    """The explainer as a function of inputs and target (for max-sensitivity)."""
    def explain(inputs: Tensor, target: Tensor) -> Tensor:
        return explainer(bundle.model, inputs, target)

    return explain


def quality_section(bundle: Bundle, x: Tensor, target: Tensor, cfg: ReportConfig) -> Section:
    """Images: deletion and insertion AUC against a random order, infidelity, max-sensitivity.

    Shape: x (N, 3, H, W) in [0, 1], target (N,).
    """
    rows = []
    qcfg = QualityConfig(steps=16, n_perturb=4)
    for name in cfg.methods:
        if name == "gradcam":
            try:
                find_layer(bundle.model)
            except RobustuneError:
                continue
        explainer = registry.get("explainer", name)(ExplainConfig(n_steps=cfg.n_steps, batch_size=8))
        attr = explainer(bundle.model, x, target)
        row: dict[str, Any] = {"method": name, **deletion_insertion(bundle.model, x, target, attr, qcfg)}
        row.update(perturbation_metrics(bundle.model, x, target, attr, _bound(bundle, explainer), qcfg))
        rows.append(row)
    verdict = para("Most faithful by deletion here: ", Strong(_best(rows)), ".")
    return Section("Which explanation to believe", [Table(rows), verdict], NOTES["quality"].format(n=len(x)))


def text_quality_section(bundle: Bundle, texts: list[str], target: Tensor, cfg: ReportConfig) -> Section:
    """Texts: token deletion and insertion curves per text explainer, against a random order."""
    tok = bundle.tokenizer
    enc = encode(tok, texts, int(bundle.meta["preprocessing"]["max_length"]))
    ids, mask = enc["input_ids"], enc["attention_mask"]
    editable = mask.bool() & ~torch.isin(ids, torch.tensor(sorted(set(tok.all_special_ids))))
    rows: list[dict[str, Any]] = []
    for name in ("integrated-gradients", "attention-rollout"):
        explainer = registry.get("explainer", name)(ExplainConfig(n_steps=cfg.n_steps, batch_size=8))
        try:
            with explain_mode(bundle.model, 0):
                scores = explainer.explain_tokens(bundle.model, tok, ids, mask, target)
        except RobustuneError:
            continue  # attention rollout on a model without attention maps
        curves = token_curves(bundle.model, ids, mask, target, scores, editable, int(tok.pad_token_id or 0),
                              QualityConfig(steps=10))
        rows.append({"method": name, **curves})
    verdict = para("Most faithful by deletion here: ", Strong(_best(rows)), ".")
    return Section("Which explanation to believe", [Table(rows), verdict],
                   NOTES["quality_text"].format(n=len(texts)))
