"""Evaluating a bundle on labeled data: its own holdout when the data is its training source."""

from __future__ import annotations

from typing import Any

import torch

from finetune.data.spec import load_data
from finetune.data.splits import SplitConfig, make_splits
from finetune.data.types import Data, DataOptions
from finetune.inference import evaluate
from finetune.preprocess import prepare_inputs
from plugins.bundle import Bundle
from plugins.errors import RobustuneError


def _relabel(data: Data, labels: list[str]) -> torch.Tensor:
    unknown = sorted(set(data.classes) - set(labels))
    if unknown:
        raise RobustuneError(
            f"data has classes the model does not know: {', '.join(unknown[:5])}; "
            f"the model's classes are {', '.join(labels)}"
        )
    lookup = torch.tensor([labels.index(c) for c in data.classes])
    return lookup[data.labels]


def evaluate_bundle(
    bundle: Bundle, data_spec: str, split: str = "auto", options: DataOptions | None = None
) -> tuple[str, dict[str, Any]]:
    """(which split was used, metrics). ``auto``: the bundle's holdout if the source matches."""
    source = load_data(data_spec, options)
    if split not in ("auto", "holdout", "all"):
        raise RobustuneError(f"--split must be auto, holdout or all, got {split!r}")
    same = source.name == bundle.meta.get("data", {}).get("source")
    use_holdout = split == "holdout" or (split == "auto" and same)
    data: Data = source.pool
    if use_holdout:
        cfg = SplitConfig(**bundle.meta["split"]) if "split" in bundle.meta else SplitConfig()
        data = make_splits(source, cfg).test
    pre = bundle.meta["preprocessing"]
    inputs = prepare_inputs(data, pre, bundle.tokenizer)
    labels = _relabel(data, bundle.labels)
    return ("holdout" if use_holdout else "all"), evaluate(bundle.model, inputs, labels, bundle.labels)
