"""Evaluating a bundle on labeled data: its own holdout when the data is its training source."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from finetune.data.config import DataOptions, SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.data.types import Data
from finetune.inference import EVAL_BATCH, trust_outputs
from finetune.metrics import classification_metrics
from finetune.precision import pick
from finetune.preprocess import Inputs, prepare_inputs
from plugins.bundle import Bundle
from plugins.errors import InvalidInput, opt
from plugins.events import Reporter
from plugins.numerics import Choice

if TYPE_CHECKING:
    from finetune.numerics.batch import Batch


def bundle_data(
    bundle: Bundle, data_spec: str, split: str = "auto", options: DataOptions | None = None
) -> tuple[str, Data]:
    """(which split, the data). ``auto``: the bundle's holdout if the source matches, else all."""
    if split not in ("auto", "holdout", "all"):
        raise InvalidInput(f"{opt('split')} must be auto, holdout or all, got {split!r}", field='split')
    source = load_data(data_spec, options)
    if source.pool.modality != bundle.modality:
        raise InvalidInput(f"bundle {bundle.path} is a {bundle.modality} model but {opt('data')} {data_spec} "
                           f"holds {source.pool.modality}; pass {bundle.modality} data")
    same = source.name == bundle.meta.data_source
    if split == "holdout" or (split == "auto" and same):
        cfg = SplitConfig(**bundle.meta.split) if bundle.meta.split is not None else SplitConfig()
        return "holdout", make_splits(source, cfg).test
    return "all", source.pool


def bundle_labels(data: Data, bundle: Bundle) -> torch.Tensor:
    """The data's labels as indices of the bundle's classes (unknown class names raise)."""
    labels = bundle.labels
    unknown = sorted(set(data.classes) - set(labels))
    if unknown:
        raise InvalidInput(
            f"data has classes the model does not know: {', '.join(unknown[:5])}; "
            f"the model's classes are {', '.join(labels)}"
        )
    lookup = torch.tensor([labels.index(c) for c in data.classes])
    return lookup[data.labels]


def evaluate_bundle(
    bundle: Bundle, data_spec: str, split: str = "auto", options: DataOptions | None = None,
    precision: str = "auto", events: Reporter | None = None, device: str = "cpu",
    unfamiliar_data: str | None = None,
) -> tuple[str, dict[str, Any], Choice, Batch]:
    """(which split was used, metrics, the numerics ``precision`` picked, the batch size); the model runs
    on ``device`` (auto: a GPU when present) in batches that fit its free memory. With a trust record,
    ``metrics["trust"]`` says how its calibration, sets and threshold hold here; ``unfamiliar_data``
    (another source) adds how well the unfamiliar-input score tells it from this data."""
    from finetune.device import resolve_device
    from finetune.numerics.batch import batch_for, probe_args

    used, data = bundle_data(bundle, data_spec, split, options)
    inputs = prepare_inputs(data, bundle.meta.preprocessing, bundle.tokenizer)
    labels = bundle_labels(data, bundle)
    on = resolve_device(device)
    model, choice = pick(bundle.model.to(on), inputs, on, "infer", precision, events)
    batch = batch_for(model, probe_args(inputs, on), on, "infer", EVAL_BATCH, len(labels))
    record = bundle.meta.trust
    logits, features = trust_outputs(model, record, inputs, batch.size, on, fitted=True)
    metrics = classification_metrics(labels, logits.argmax(1), bundle.labels)
    if record is not None:  # calibration, sets and the unfamiliar share on this labeled data
        from robustness.uncertainty.record import evaluate_trust

        metrics["trust"] = evaluate_trust(logits, labels, record, bundle.labels, features=features,
                                          tensors=bundle.trust_tensors)
    if unfamiliar_data is not None:
        from robustness.uncertainty.record import separation, unfamiliar_scores
        from robustness.uncertainty.unfamiliar import energy

        other = _unfamiliar_inputs(bundle, unfamiliar_data, options)
        other_logits, other_features = trust_outputs(model, record, other, batch.size, on, fitted=True)
        if record is None:  # no record: the energy score, with no threshold to count against
            found = separation(energy(logits), energy(other_logits), None)
        else:
            found = separation(unfamiliar_scores(logits, record, features, bundle.trust_tensors),
                               unfamiliar_scores(other_logits, record, other_features, bundle.trust_tensors),
                               record)
        found["score"] = record["unfamiliar"].get("score", "energy") if record else "energy"
        metrics.setdefault("trust", {}).setdefault("unfamiliar", {}).update(against=unfamiliar_data, **found)
    return used, metrics, choice, batch


UNFAMILIAR_MAX = 2000  # examples of the unfamiliar source scored (a fixed shuffle)


def _unfamiliar_inputs(bundle: Bundle, spec: str, options: DataOptions | None) -> Inputs:
    """Up to ``UNFAMILIAR_MAX`` examples of another source, prepared as the bundle prepares its own."""
    source = load_data(spec, options).pool
    if source.modality != bundle.modality:
        raise InvalidInput(f"{opt('unfamiliar_data')} {spec} holds {source.modality} but the bundle is a "
                           f"{bundle.modality} model; pass {bundle.modality} data", field="unfamiliar_data")
    order = torch.randperm(len(source), generator=torch.Generator().manual_seed(0))[:UNFAMILIAR_MAX]
    return prepare_inputs(source.subset(order.tolist()), bundle.meta.preprocessing, bundle.tokenizer)
