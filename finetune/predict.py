"""Prediction for a loaded bundle: image files or texts -> top-k labels with probabilities."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from finetune.data.images import try_read_image
from finetune.inference import EVAL_BATCH, trust_outputs
from finetune.preprocess import Inputs, prepare_images, tokenize
from plugins.bundle import Bundle
from plugins.errors import InvalidInput, NotFound, Unsupported, opt
from robustness.config import SmoothingConfig

Prediction = list[tuple[str, float]]


def bundle_inputs_for_files(bundle: Bundle, files: list[Path]) -> Inputs:
    """Read and resize image files for an image bundle; unreadable files raise, named."""
    if bundle.modality != "image":
        raise Unsupported(f"bundle {bundle.path} is a text model; pass texts ({opt('text')}), not files")
    if not files:
        raise Unsupported(f"bundle {bundle.path} is an image model; pass image files")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise NotFound(f"file(s) not found: {', '.join(missing[:5])}; check the paths")
    size = bundle.meta.image_size
    images = [try_read_image(f, size) for f in files]
    bad = [str(f) for f, img in zip(files, images, strict=True) if img is None]
    if bad:
        raise InvalidInput(f"unreadable image(s): {', '.join(bad[:5])}; pass png, jpg, bmp, gif or webp")
    return {"pixels": prepare_images([i for i in images if i is not None], size)}


def bundle_inputs_for_texts(bundle: Bundle, texts: list[str]) -> Inputs:
    """Tokenize texts for a text bundle."""
    if bundle.modality != "text":
        raise Unsupported(f"bundle {bundle.path} is an image model; pass image files, not {opt('text')}")
    if not texts or any(not t.strip() for t in texts):
        raise InvalidInput(f"{opt('text')} needs non-empty text", field='text')
    return tokenize(texts, bundle.tokenizer, bundle.meta.max_length)


def trusted(bundle: Bundle, inputs: Inputs, k: int = 3, device: torch.device | None = None,
            batch_size: int = EVAL_BATCH, fitted: bool = False,
            coverage: float | None = None) -> list[dict[str, Any]]:
    """Per input: the top-k labels with calibrated probabilities (and the raw ones), the conformal
    prediction set at ``coverage`` (default: the bundle's), the unfamiliar-input score and flag. A bundle
    without a trust record gives raw probabilities and says how to add one (``trust_note``)."""
    from robustness.uncertainty.conformal import check_calibration, smallest_calibration
    from robustness.uncertainty.record import apply_trust

    record = bundle.meta.trust
    logits, features = trust_outputs(bundle.model, record, inputs, batch_size, device, fitted)
    raw = torch.softmax(logits, dim=1)
    if record is None:
        return [{"top": _top(bundle.labels, p, k), "calibrated": False, "trust_note": NO_TRUST} for p in raw]
    if coverage is not None:
        check_calibration(len(record["conformal"]["scores"]), coverage)
    got = apply_trust(logits, record, coverage, features=features, tensors=bundle.trust_tensors)
    rows = []
    for i in range(len(logits)):
        row: dict[str, Any] = {"top": _top(bundle.labels, got.probs[i], k), "calibrated": True,
                               "raw_top": _top(bundle.labels, raw[i], k),
                               "unfamiliar": bool(got.unfamiliar[i]), "score": round(float(got.score[i]), 4)}
        if got.sets is not None:
            order = got.probs[i].argsort(descending=True).tolist()
            row["set"] = [bundle.labels[j] for j in order if bool(got.sets[i, j])]
            row["coverage"] = got.coverage
        else:
            row["set_note"] = (f"no prediction set: coverage {got.coverage:g} needs at least "
                               f"{smallest_calibration(got.coverage)} calibration examples and this bundle "
                               f"kept {len(record['conformal']['scores'])}; train with more validation "
                               "examples or ask for less coverage")
        rows.append(row)
    return rows


def smoothing_for(bundle: Bundle, sigma: float | None = None, n0: int = 100, n: int = 1000,
                  alpha: float = 0.001) -> SmoothingConfig:
    """Randomized smoothing's settings for ``bundle``: ``sigma`` or the one it was trained with
    (``--noise-train``), else 0.25."""
    trained = float(bundle.meta.training.get("noise_train") or 0.0)
    return SmoothingConfig(sigma=sigma or trained or 0.25, n0=n0, n=n, alpha=alpha)


def certify_copies(bundle: Bundle, device: torch.device) -> int:
    """Noisy copies per forward pass when certifying ``bundle``'s images on ``device``
    (``finetune.numerics.batch.certify_batch``; it runs the model on one blank image)."""
    from finetune.numerics.batch import certify_batch

    side = bundle.meta.image_size
    return certify_batch(bundle.model.eval(), (torch.zeros(1, 3, side, side, device=device),), device).size


def certified_rows(bundle: Bundle, inputs: Inputs, cfg: SmoothingConfig,
                   device: torch.device | None = None) -> list[dict[str, Any]]:
    """Per input: the smoothed classifier's label and its certified L2 radius, or an abstention (Cohen
    et al.'s CERTIFY, ``robustness.certify``)."""
    from robustness.certify import ABSTAIN, certify

    if bundle.modality != "image":
        raise Unsupported(f"{opt('certify')} certifies image models (noise on the pixels); this is a text "
                          "model", field="certify")
    on = device or torch.device("cpu")
    x = inputs["pixels"].float().div(255).to(on)
    model = bundle.model.eval()
    if cfg.batch_size is None:
        cfg = replace(cfg, batch_size=certify_copies(bundle, on))
    cert = certify(model, x, len(bundle.labels), cfg)
    return [{"label": None if int(p) == ABSTAIN else bundle.labels[int(p)], "radius": round(float(r), 4),
             "abstained": int(p) == ABSTAIN, "sigma": cfg.sigma}
            for p, r in zip(cert.predictions.tolist(), cert.radii.tolist(), strict=True)]


NO_TRUST = ("this bundle has no calibration, prediction sets or unfamiliar-input threshold (an older or "
            "imported bundle): add them with robustune calibrate BUNDLE --data DATA")


def _top(labels: list[str], probs: Tensor, k: int) -> list[dict[str, Any]]:
    values, indices = probs.topk(max(1, min(k, len(probs))))
    return [{"label": labels[i], "probability": float(v)} for v, i in zip(values.tolist(), indices.tolist(),
                                                                            strict=True)]
