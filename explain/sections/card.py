"""The model card: what was trained, on what, and how."""

from __future__ import annotations

from typing import Any

from explain.document import Section, Table
from explain.report_notes import NOTES
from plugins.bundle import Bundle
from plugins.meta import BundleMeta

TRAINING_KEYS = ("epochs", "lr", "batch_size", "weight_decay", "adversarial", "adv_eps", "noise_train",
                 "best_epoch", "trainable_params")


def model_identity(meta: BundleMeta) -> str:
    """The real model behind the bundle (recorded at training; older bundles: the timm name or plugin)."""
    return str(meta.identity or meta.arch.get("timm_name") or meta.model.backbone)


def model_card(bundle: Bundle, audit: dict[str, Any] | None = None) -> Section:
    """Model, head, adapter, data, split sizes, classes, the main training settings and the numerics."""
    meta = bundle.meta
    training = meta.training
    data = meta.data
    rows = [{"item": "model", "value": model_identity(meta)},
            {"item": "plugin", "value": meta.model.backbone},
            {"item": "head", "value": meta.model.head},
            {"item": "adapter", "value": meta.adapter.name if meta.adapter is not None else "-"},
            {"item": "data", "value": data.source if data is not None else "-"},
            {"item": "split sizes",
             "value": ", ".join(f"{k} {v}" for k, v in (data.splits if data else {}).items()) or "-"},
            {"item": "classes", "value": ", ".join(bundle.labels)}]
    used = _recipe_settings(meta.recipe)
    rows.append({"item": "recipe", "value": meta.recipe})
    rows += [{"item": key.replace("_", " "), "value": training[key]} for key in TRAINING_KEYS
             if key in training and (key in used or key == "trainable_params")
             and (key != "noise_train" or training[key])]  # noise only when trained with it
    defaults = training.get("defaults")
    if isinstance(defaults, dict):
        taken = ", ".join(f"{k} {v}" for k, v in (defaults.get("model") or {}).items())
        rows.append({"item": "training defaults",
                     "value": f"the model's: {taken}" if taken else "robustune's generic ones"})
    numerics = {**meta.numerics, **({"audit": audit["numerics"]} if audit and
                                                   audit.get("numerics") else {})}
    rows += [{"item": f"numerics ({stage})", "value": numerics_text(record)}
             for stage, record in numerics.items() if isinstance(record, dict)]
    return Section("Model card", [Table(rows, ["item", "value"])], NOTES["card"])


def _recipe_settings(name: str) -> tuple[str, ...]:
    """The training settings recipe ``name`` uses (every one for a recipe this robustune does not know)."""
    from plugins.errors import RobustuneError
    from plugins.registry import registry

    try:
        return tuple(getattr(registry.get("recipe", name), "settings", TRAINING_KEYS))
    except RobustuneError:
        return TRAINING_KEYS


def numerics_text(record: dict[str, Any]) -> str:
    """``fp32 + channels-last (auto: 1.48x fp32, agreement 1.000)`` from a recorded choice."""
    text = f"{record.get('choice', '-')} ({record.get('precision', '-')}"
    if record.get("speedup_vs_fp32"):
        text += f": {record['speedup_vs_fp32']:.2f}x fp32"
    agreement = (record.get("agreement_vs_fp32") or {}).get(record.get("choice"))
    if agreement is not None:
        text += f", agreement {agreement:.3f}"
    return text + ")"
