"""The model card: what was trained, on what, and how."""

from __future__ import annotations

from typing import Any

from explain.document import Section, Table
from explain.report_notes import NOTES
from plugins.bundle import Bundle

TRAINING_KEYS = ("epochs", "lr", "batch_size", "weight_decay", "adversarial", "adv_eps", "best_epoch",
                 "trainable_params")


def model_identity(meta: dict[str, Any]) -> str:
    """The real model behind the bundle (recorded at training; older bundles: the timm name or plugin)."""
    arch = meta.get("arch") or {}
    return str(meta.get("identity") or arch.get("timm_name") or meta["model"]["backbone"])


def model_card(bundle: Bundle) -> Section:
    """Model, head, adapter, data, split sizes, classes and the main training settings."""
    meta = bundle.meta
    training = meta.get("training", {})
    data = meta.get("data") or {}
    rows = [{"item": "model", "value": model_identity(meta)},
            {"item": "plugin", "value": meta["model"]["backbone"]},
            {"item": "head", "value": meta["model"].get("head", "linear")},
            {"item": "adapter", "value": (meta.get("adapter") or {}).get("name", "-")},
            {"item": "data", "value": data.get("source", "-")},
            {"item": "split sizes", "value": ", ".join(f"{k} {v}" for k, v in data.get("splits",
                                                                                       {}).items()) or "-"},
            {"item": "classes", "value": ", ".join(bundle.labels)}]
    rows += [{"item": key.replace("_", " "),
              "value": training[key]} for key in TRAINING_KEYS if key in training]
    return Section("Model card", [Table(rows, ["item", "value"])], NOTES["card"])
