"""The ``predict`` job's work, and the ``Predictor`` the service keeps warm: a bundle loaded once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from finetune.inference import EVAL_BATCH
from finetune.numerics.batch import batch_for, probe_args
from finetune.precision import pick
from finetune.predict import (
    bundle_inputs_for_files,
    bundle_inputs_for_texts,
    certified_rows,
    certify_copies,
    smoothing_for,
    trusted,
)
from plugins.bundle import load_bundle
from plugins.errors import InvalidInput, Unreadable, Unsupported, opt
from plugins.events import Events, Reporter, reporter

if TYPE_CHECKING:
    from robustune.jobs.predict import PredictSpec


def predict(spec: PredictSpec, events: Events | Reporter | None = None) -> dict[str, Any]:
    """Classify the files or texts."""
    if not spec.files and not spec.texts:
        raise InvalidInput(f"give image files or texts ({opt('text')}) to predict", field="files")
    bundle = load_bundle(Path(spec.bundle))
    if spec.texts:
        names, inputs = list(spec.texts), bundle_inputs_for_texts(bundle, list(spec.texts))
    else:
        names, inputs = list(spec.files), bundle_inputs_for_files(bundle, [Path(f) for f in spec.files])
    from finetune.device import resolve_device

    device = resolve_device(spec.device)
    model, choice = pick(bundle.model.to(device), inputs, device, "infer", spec.precision, reporter(events))
    batch = batch_for(model, probe_args(inputs, device), device, "infer", EVAL_BATCH, len(names))
    preds = trusted(replace(bundle, model=model), inputs, spec.top_k, device, batch.size, True, spec.coverage)
    rows = [{"input": n, **pr} for n, pr in zip(names, preds, strict=True)]
    if spec.certify:
        cfg = smoothing_for(bundle, spec.sigma, n=spec.certify_n, alpha=spec.certify_alpha)
        certified = certified_rows(replace(bundle, model=model), inputs, cfg, device)
        for row, cert in zip(rows, certified, strict=True):
            row["certified"] = cert
    return {"rows": rows, "numerics": choice.to_json(), "batch": batch.to_json()}


class Predictor:
    """A bundle loaded once for many predictions (the service keeps these warm).

    ``prepare`` turns one input (an image's bytes or a text) into what ``predict`` batches;
    ``predict`` runs one batch and returns the top-k labels per input.
    """

    def __init__(self, bundle: str | Path, runtime: str = "torch", device: str = "cpu") -> None:
        from finetune.device import resolve_device
        from plugins.bundle import load_bundle

        self.bundle = load_bundle(Path(bundle))
        self.modality = self.bundle.modality
        self.runtime = "torch"
        self.device = resolve_device(device)  # auto: a GPU when present
        if self.device.type != "cpu":  # onnxruntime answers on the CPU; a GPU runs the model itself
            self.bundle = replace(self.bundle, model=self.bundle.model.to(self.device))
        elif runtime == "onnx":  # exported now (or found on disk); its session opens on the first batch
            from finetune.export import sample_inputs
            from finetune.numerics import apply
            from plugins.numerics import ONNX_RUNTIME

            model: Any = apply(self.bundle.model, ONNX_RUNTIME)
            try:
                model.graph("logits", tuple(sample_inputs(self.bundle, 2).values()))
                self.bundle, self.runtime = replace(self.bundle, model=model), "onnx"
            except Exception:  # noqa: BLE001 - a model ONNX cannot express is answered by torch
                pass
        self.bytes = sum(p.numel() * p.element_size() for p in self.bundle.model.parameters())
        self.fitted = 0  # a GPU's batch sized for its memory (batch_size), once asked
        self._torch = torch
        # certify's noisy copies per forward pass, sized now: measuring later would hook the model while the
        # service's predictions run through it
        self.copies = certify_copies(self.bundle, self.device) if self.modality == "image" else None

    def batch_size(self, usual: int, lanes: int = 1) -> int:
        """The most inputs one batch may hold: ``usual`` on the CPU; on a GPU the largest power of two
        whose memory fits its free memory shared by ``lanes`` batches at once (the longest text)."""
        if self.device.type != "cuda":
            return usual
        from finetune.inference import EVAL_BATCH
        from finetune.numerics.batch import batch_for, pow2_floor, probe_args
        from finetune.predict import tokenize

        if self.modality == "text":
            max_length = self.bundle.meta.max_length
            inputs = tokenize(["a " * max_length], self.bundle.tokenizer, max_length)
        else:
            side = self.bundle.meta.image_size
            inputs = {"pixels": self._torch.zeros(1, 3, side, side, dtype=self._torch.uint8)}
        args = probe_args(inputs, self.device)
        most = batch_for(self.bundle.model, args, self.device, "infer", EVAL_BATCH).size
        self.fitted = pow2_floor(most // max(lanes, 1))
        return self.fitted

    def prepare(self, item: bytes | str) -> Any:
        """An image (bytes) as uint8 pixels at the model's size, or a text as itself."""
        import io

        from finetune.data.images import read_image
        from finetune.preprocess import prepare_images

        if self.modality == "text":
            if not isinstance(item, str):
                raise Unsupported("this is a text model: send texts, not images", field="images")
            if not item:
                raise InvalidInput("texts must be non-empty strings", field="texts")
            return item
        if not isinstance(item, bytes):
            raise Unsupported("this is an image model: send images, not texts", field="texts")
        size = self.bundle.meta.image_size
        try:
            pixels = read_image(io.BytesIO(item), size)  # type: ignore[arg-type]
        except (OSError, ValueError, SyntaxError) as exc:
            raise Unreadable(
                f"an image cannot be read ({type(exc).__name__}); send png, jpg, bmp, gif or webp",
                field="images",
            ) from exc
        return prepare_images([pixels], size)[0]

    def certify(self, items: list[Any], sigma: float | None = None) -> list[dict[str, Any]]:
        """Per prepared image: the randomized-smoothing label and its certified L2 radius (or an
        abstention), with the bundle's sigma unless given (``finetune.predict.certified_rows``)."""
        if self.modality != "image":
            raise Unsupported("certify is for image models (noise on the pixels); this is a text model",
                              field="certify")
        inputs = {"pixels": self._torch.stack(items)}
        cfg = replace(smoothing_for(self.bundle, sigma), batch_size=self.copies)
        return certified_rows(self.bundle, inputs, cfg, self.device)

    def predict(self, items: list[Any], k: int = 3) -> list[dict[str, Any]]:
        """Per prepared item (one batch): the top-k labels with calibrated probabilities, the prediction
        set, the unfamiliar-input score and flag (``finetune.predict.trusted``)."""
        from finetune.predict import tokenize

        torch = self._torch
        if self.modality == "text":
            inputs = tokenize(items, self.bundle.tokenizer, self.bundle.meta.max_length)
        else:
            inputs = {"pixels": torch.stack(items)}
        if self.fitted:  # a GPU: at most what fits, however many inputs the batcher gathered
            return trusted(self.bundle, inputs, k, self.device, self.fitted, fitted=True)
        return trusted(self.bundle, inputs, k, self.device, max(1, len(items)))
