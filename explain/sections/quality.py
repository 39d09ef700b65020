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


def faithfulness(row: dict[str, Any]) -> float:
    """How much better than a random order a method's order is, by deletion and insertion together:
    (random deletion AUC - deletion AUC) + (insertion AUC - random insertion AUC); higher is better
    (texts have deletion only)."""
    gain = row["deletion_auc_random"] - row["deletion_auc"]
    if "insertion_auc" in row and "insertion_auc_random" in row:
        gain += row["insertion_auc"] - row["insertion_auc_random"]
    return float(gain)


def best_method(rows: list[dict[str, Any]]) -> str | None:
    """The most faithful method by deletion and insertion, among those not marked (mostly empty maps,
    or the same maps as another method); None: no rows."""
    kept = [r for r in rows if not r.get("mark")] or rows
    if not kept:
        return None
    return str(max(kept, key=faithfulness)["method"])


def marks(attributions: dict[str, Tensor]) -> dict[str, str]:
    """Methods not to choose, and why: most maps empty (zero or not finite), or the same maps as a method
    listed before it (DeepLift on a network whose activations it has no rule for is Input x Gradient).
    Shape: per method (N, C, H, W)."""
    out: dict[str, str] = {}
    seen: dict[str, Tensor] = {}
    for name, attr in attributions.items():
        flat = attr.detach().float().nan_to_num(0.0, 0.0, 0.0).flatten(1)
        empty = float((flat.abs().sum(1) == 0).double().mean())
        same = next((other for other, a in seen.items() if a.shape == flat.shape and
                     torch.allclose(a, flat, rtol=1e-4, atol=1e-7 * float(flat.abs().max() or 1))), None)
        if empty > 0.5:
            out[name] = f"{empty:.0%} of its maps are empty"
        elif same is not None:
            out[name] = f"the same maps as {same}"
        seen[name] = flat
    return out


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
    maps: dict[str, Tensor] = {}
    for name in cfg.methods:
        if name == "gradcam":
            try:
                find_layer(model)
            except RobustuneError:
                continue
        method = explainer(name, cfg.n_steps)
        attr = method(model, x, target)
        maps[name] = attr
        row: dict[str, Any] = {"method": name, **deletion_insertion(model, x, target, attr, qcfg)}
        row.update(perturbation_metrics(model, x, target, attr, _bound(model, method), qcfg))
        row["faithfulness"] = faithfulness(row)
        rows.append(row)
    marked = marks(maps)
    for row in rows:
        row["mark"] = marked.get(row["method"], "")
    return rows


def quality_section(rows: list[dict[str, Any]], n: int, modality: str) -> Section:
    """The quality table of :func:`quality_rows` or :func:`text_quality_rows` and its verdict."""
    verdict = para("Most faithful by deletion and insertion here: ", Strong(best_method(rows) or "-"),
                   ". A marked method is not chosen, whatever its numbers.")
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
