"""A bundle's trust record (calibration, conformal scores, unfamiliar threshold) fitted after the fact:
for bundles written before the record existed, imported ones, or to refit on other labeled data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.data.config import DataOptions, SplitConfig
from finetune.data.spec import load_data
from finetune.data.splits import make_splits
from finetune.device import resolve_device
from finetune.evaluation import bundle_labels
from finetune.inference import EVAL_BATCH, predict_logits, predict_with_features
from finetune.numerics.batch import batch_for, probe_args
from finetune.preprocess import prepare_inputs
from plugins.bundle import load_bundle, update_meta
from plugins.errors import InvalidInput, opt
from plugins.registry import registry
from robustness.uncertainty.record import TrustConfig, fit_trust


def calibrate_bundle(path: Path, data_spec: str, options: DataOptions | None = None,
                     cfg: TrustConfig | None = None, device: str = "auto") -> tuple[str, dict[str, Any]]:
    """(which examples were used, the record) fitted on labeled data and written into the bundle's
    ``robustune.json`` (atomically; the weights are not touched). The bundle's own validation split is
    used when the data is its training source; other data is used whole (data the model never saw)."""
    bundle = load_bundle(path)
    source = load_data(data_spec, options)
    if source.pool.modality != bundle.modality:
        raise InvalidInput(f"bundle {path} is a {bundle.modality} model but {opt('data')} {data_spec} holds "
                           f"{source.pool.modality}; pass {bundle.modality} data", field="data")
    if source.name == bundle.meta.data_source:
        split = SplitConfig(**bundle.meta.split) if bundle.meta.split is not None else SplitConfig()
        used, data = "validation", make_splits(source, split).val
    else:
        used, data = "all", source.pool
    labels = bundle_labels(data, bundle)
    if len(labels) < 2:
        raise InvalidInput(f"{opt('data')} {data_spec} gives {len(labels)} labeled example(s) to calibrate "
                           "on; pass more", field="data")
    inputs = prepare_inputs(data, bundle.meta.preprocessing, bundle.tokenizer)
    on = resolve_device(device)
    model = bundle.model.to(on)
    batch = batch_for(model, probe_args(inputs, on), on, "infer", EVAL_BATCH, len(labels))
    cfg = cfg or TrustConfig()
    if registry.get("unfamiliar-score", cfg.unfamiliar).needs_features:
        logits, features = predict_with_features(model, inputs, batch.size, on, fitted=True)
    else:
        logits, features = predict_logits(model, inputs, batch.size, on, fitted=True), None
    record, tensors = fit_trust(logits, labels, cfg, features)
    record["fitted_on"] = {"data": data_spec, "examples": used, "n": len(labels)}
    update_meta(path, trust_tensors=tensors, trust=record)
    return used, record

