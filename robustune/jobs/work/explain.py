"""The ``explain`` job's work: attributions for image files (overlay PNGs) or texts (highlighted words)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import save_file

from explain.base import Explainer
from explain.config import ExplainConfig
from explain.document import Highlighted
from explain.explanations import explain_report
from explain.render import overlay_png, top_words
from explain.templating import render
from explain.text import explain_texts
from finetune.data.images import try_read_image
from finetune.device import resolve_device
from finetune.numerics.batch import Batch, batch_for, probe_args
from finetune.precision import pick
from finetune.predict import bundle_inputs_for_files, bundle_inputs_for_texts
from plugins import jsonio
from plugins.atomic import atomic_dir, check_writable_target
from plugins.bundle import Bundle, load_bundle
from plugins.errors import InvalidInput, Unsupported, opt
from plugins.events import Events, Reporter, reporter
from plugins.modes import device_of
from plugins.options import plugin_options
from plugins.registry import registry

if TYPE_CHECKING:
    from robustune.jobs.explain import ExplainSpec


def make_explainer(name: str, cfg: ExplainConfig, modality: str, options: dict[str, Any] | None = None
                   ) -> Explainer:
    """The explainer plugin ``name`` with its own options; one that cannot explain ``modality`` raises."""
    own = plugin_options("explainer", name, dict(options or {}), field="explain_options")
    explainer: Explainer = registry.get("explainer", name)(cfg, own)
    if modality not in explainer.modalities:
        usable = [n for n in registry.names("explainer") if modality in registry.get("explainer",
                                                                                     n).modalities]
        article = "an" if modality == "image" else "a"
        raise Unsupported(f"{name} explains {', '.join(explainer.modalities)} models but this is {article} "
                          f"{modality} model; use {opt('method')} {' or '.join(usable)}", field="method")
    return explainer


def _target(bundle: Bundle, label: str | None, predicted: torch.Tensor) -> torch.Tensor:
    if label is None:
        return predicted
    if label not in bundle.labels:
        raise InvalidInput(f"{opt('target')} {label!r} is not a class of this model; its classes are "
                           f"{', '.join(bundle.labels)}", field="target")
    return torch.full_like(predicted, bundle.labels.index(label))


def explain(spec: ExplainSpec, events: Events | Reporter | None = None) -> dict[str, Any]:
    """Explain each input for its predicted class (or ``target``) and write the folder atomically."""
    report = reporter(events)
    reads: list[Path | str | None] = [spec.bundle, *spec.files]
    check_writable_target(spec.folder, spec.overwrite, reads)
    bundle = load_bundle(Path(spec.bundle))
    if bundle.modality == "text" and (spec.files or not spec.texts):
        raise Unsupported(f"bundle {spec.bundle} is a text model; pass texts ({opt('text')}), not files",
                          field="files")
    if bundle.modality == "image" and (spec.texts or not spec.files):
        raise Unsupported(f"bundle {spec.bundle} is an image model; pass image files, not texts",
                          field="texts")
    if spec.skip_corrupt and spec.files:
        # a missing path is still an error (a typo), an unreadable file is skipped
        readable = [f for f in spec.files if not Path(f).is_file() or try_read_image(Path(f), 8) is not None]
        if not readable:
            raise InvalidInput(f"none of the {len(spec.files)} image file(s) can be read; pass png, jpg, "
                               "bmp, gif or webp", field="files")
        if len(readable) < len(spec.files):
            report.log(f"skipped {len(spec.files) - len(readable)} unreadable image file(s)")
        spec = replace(spec, files=tuple(readable))
    explainer = make_explainer(spec.method, spec.config(), bundle.modality, spec.explain_options)
    inputs = (bundle_inputs_for_texts(bundle, list(spec.texts)) if bundle.modality == "text"
              else bundle_inputs_for_files(bundle, [Path(f) for f in spec.files]))
    device = resolve_device(spec.device)
    model, choice = pick(bundle.model.to(device), inputs, device, "gradient", spec.precision, report)
    batch = batch_for(model, probe_args(inputs, device), device, "gradient", explainer.cfg.batch_size,
                      len(spec.files or spec.texts), passes=explainer.passes_per_input())
    explainer.cfg = replace(explainer.cfg, batch_size=batch.size)
    bundle = replace(bundle, model=model)
    report.progress("explaining", 0, 1)
    work = _explain_texts if bundle.modality == "text" else _explain_images
    rows = work(spec, bundle, explainer, reads, _recorded(choice.to_json(), batch))
    report.progress("explaining", 1, 1)
    return {"out": spec.folder, "method": explainer.name, "rows": rows}


def _recorded(numerics: dict[str, Any], batch: Batch) -> dict[str, Any]:
    """The numerics record with the batch size the attributions ran at."""
    return {**numerics, "batch": batch.to_json()}


def _explain_images(spec: ExplainSpec, bundle: Bundle, explainer: Explainer,
                    reads: list[Path | str | None], numerics: dict[str, Any]) -> list[dict[str, Any]]:
    x = bundle_inputs_for_files(bundle, [Path(f) for f in spec.files])["pixels"].float() / 255.0
    on = device_of(bundle.model)
    with torch.no_grad():
        probs = torch.softmax(bundle.model(x.to(on)), dim=1).cpu()
    target = _target(bundle, spec.target, probs.argmax(1))
    attributions = explainer(bundle.model, x.to(on), target.to(on)).cpu()
    rows = []
    with atomic_dir(spec.folder, overwrite=spec.overwrite, inputs=reads, kind="explanations") as tmp:
        for i, f in enumerate(spec.files):
            name = f"{i:03d}-{Path(f).stem}.png"
            pred = int(probs[i].argmax())
            title = (f"{spec.method}: {bundle.labels[int(target[i])]}  (predicted {bundle.labels[pred]}, "
                     f"p = {float(probs[i, pred]):.2f})")
            overlay_png(x[i], attributions[i], title, tmp / name, method=spec.method)
            rows.append({"input": str(f), "prediction": bundle.labels[pred], "probability": float(probs[i,
                                                                                                        pred]),
                         "explained_class": bundle.labels[int(target[i])], "overlay": name})
        save_file({"inputs": x.contiguous(), "attributions": attributions.contiguous(), "target": target},
                  str(tmp / "attributions.safetensors"))
        (tmp / "explanations.json").write_text(jsonio.dumps(explain_report(spec.method, rows, numerics)))
    return rows


def _explain_texts(spec: ExplainSpec, bundle: Bundle, explainer: Explainer,
                   reads: list[Path | str | None], numerics: dict[str, Any]) -> list[dict[str, Any]]:
    texts = list(spec.texts)
    inputs = bundle_inputs_for_texts(bundle, texts)
    on = device_of(bundle.model)
    with torch.no_grad():
        probs = torch.softmax(bundle.model(inputs["input_ids"].to(on), inputs["attention_mask"].to(on)),
                              dim=1).cpu()
    target = _target(bundle, spec.target, probs.argmax(1))
    max_length = bundle.meta.max_length
    scored = explain_texts(explainer, bundle.model, bundle.tokenizer, texts, target, max_length)
    rows, items = [], []
    for i, s in enumerate(scored):
        pred = int(probs[i].argmax())
        rows.append({"text": s.text, "prediction": bundle.labels[pred], "probability": float(probs[i, pred]),
                     "explained_class": bundle.labels[s.target], "words": s.words, "scores": s.scores,
                     "top_words": [w for w, _ in top_words(s.words, s.scores)], "unknown": s.unknown,
                     "unknown_share": s.unknown_share})
        items.append(Highlighted(bundle.labels[s.target], s.words, s.scores,
                                 f"(predicted {bundle.labels[pred]}, p = {float(probs[i, pred]):.2f})",
                                 unknown=s.unknown))
    page = render("explanations.html.j2", method=explainer.name, items=items)
    with atomic_dir(spec.folder, overwrite=spec.overwrite, inputs=reads, kind="explanations") as tmp:
        (tmp / "explanations.html").write_text(page)
        payload = explain_report(explainer.name, rows, numerics)
        (tmp / "explanations.json").write_text(jsonio.dumps(payload))
    return rows
