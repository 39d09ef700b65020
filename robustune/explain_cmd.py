"""``robustune explain``: attributions for image files (overlays) or texts (highlighted words)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from explain.base import ExplainConfig, Explainer
from explain.render import highlight_html, overlay_png, top_words
from explain.text import explain_texts
from finetune.predict import bundle_inputs_for_files, bundle_inputs_for_texts
from plugins import jsonio
from plugins.atomic import atomic_dir, check_writable_target
from plugins.bundle import Bundle, load_bundle
from plugins.errors import RobustuneError
from plugins.registry import registry


def make_explainer(name: str, cfg: ExplainConfig, modality: str) -> Explainer:
    """The explainer plugin ``name``; one that cannot explain ``modality`` raises."""
    explainer: Explainer = registry.get("explainer", name)(cfg)
    if modality not in explainer.modalities:
        names = registry.names("explainer")
        usable = [n for n in names if modality in registry.get("explainer", n).modalities]
        article = "an" if modality == "image" else "a"
        kinds = ", ".join(explainer.modalities)
        raise RobustuneError(f"{name} explains {kinds} models but this is {article} {modality} model; "
                             f"use --method {' or '.join(usable)}")
    return explainer


def _target(bundle: Bundle, label: str | None, predicted: torch.Tensor) -> torch.Tensor:
    if label is None:
        return predicted
    if label not in bundle.labels:
        raise RobustuneError(f"--target {label!r} is not a class of this model; its classes are "
                             f"{', '.join(bundle.labels)}")
    return torch.full_like(predicted, bundle.labels.index(label))


def explain_bundle(bundle_path: Path, files: list[Path], texts: list[str], method: str, cfg: ExplainConfig,
                   out: Path, label: str | None = None, overwrite: bool = False) -> list[dict[str, Any]]:
    """Explain each input for its predicted class (or ``label``) and write ``out`` atomically."""
    if not files and not texts:
        raise RobustuneError("give image files or --text \"...\" to explain")
    reads: list[Path | str | None] = [bundle_path, *files]
    check_writable_target(out, overwrite, reads)
    bundle = load_bundle(bundle_path)
    if bundle.modality == "text" and (files or not texts):
        raise RobustuneError(f"bundle {bundle_path} is a text model; pass --text \"...\" instead of files")
    if bundle.modality == "image" and (texts or not files):
        raise RobustuneError(f"bundle {bundle_path} is an image model; pass image files instead of --text")
    explainer = make_explainer(method, cfg, bundle.modality)
    if bundle.modality == "text":
        return _explain_texts(bundle, explainer, texts, out, label, overwrite, reads)
    x = bundle_inputs_for_files(bundle, files)["pixels"].float() / 255.0
    with torch.no_grad():
        probs = torch.softmax(bundle.model(x), dim=1)
    target = _target(bundle, label, probs.argmax(1))
    attributions = explainer(bundle.model, x, target)
    rows = []
    with atomic_dir(out, overwrite=overwrite, inputs=reads, kind="explanations") as tmp:
        for i, f in enumerate(files):
            name = f"{i:03d}-{Path(f).stem}.png"
            pred = int(probs[i].argmax())
            title = (f"{method}: {bundle.labels[int(target[i])]}  (predicted {bundle.labels[pred]}, "
                     f"p = {float(probs[i, pred]):.2f})")
            overlay_png(x[i], attributions[i], title, tmp / name)
            rows.append({"input": str(f), "prediction": bundle.labels[pred],
                         "probability": float(probs[i, pred]),
                         "explained_class": bundle.labels[int(target[i])], "overlay": name})
        save_file({"inputs": x.contiguous(), "attributions": attributions.contiguous(), "target": target},
                  str(tmp / "attributions.safetensors"))
        (tmp / "explanations.json").write_text(jsonio.dumps({"method": method, "items": rows}))
    return rows


def _explain_texts(bundle: Bundle, explainer: Explainer, texts: list[str], out: Path, label: str | None,
                   overwrite: bool, reads: list[Path | str | None]) -> list[dict[str, Any]]:
    inputs = bundle_inputs_for_texts(bundle, texts)
    with torch.no_grad():
        probs = torch.softmax(bundle.model(inputs["input_ids"], inputs["attention_mask"]), dim=1)
    target = _target(bundle, label, probs.argmax(1))
    max_length = int(bundle.meta["preprocessing"]["max_length"])
    scored = explain_texts(explainer, bundle.model, bundle.tokenizer, texts, target, max_length)
    rows, sections = [], []
    for i, s in enumerate(scored):
        pred = int(probs[i].argmax())
        rows.append({"text": s.text, "prediction": bundle.labels[pred], "probability": float(probs[i, pred]),
                     "explained_class": bundle.labels[s.target], "words": s.words, "scores": s.scores,
                     "top_words": [w for w, _ in top_words(s.words, s.scores)]})
        sections.append(f"<p><b>{html.escape(bundle.labels[s.target])}</b> (predicted "
                        f"{html.escape(bundle.labels[pred])}, p = {float(probs[i, pred]):.2f})<br>"
                        f"{highlight_html(s.words, s.scores)}</p>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>robustune explanations</title></head>"
            f"<body style='font-family: sans-serif; max-width: 50em'><h1>{html.escape(explainer.name)}</h1>"
            "<p>Red words push toward the explained class, blue words against it.</p>"
            + "\n".join(sections) + "</body></html>")
    with atomic_dir(out, overwrite=overwrite, inputs=reads, kind="explanations") as tmp:
        (tmp / "explanations.html").write_text(page)
        payload = {"method": explainer.name, "items": rows}
        (tmp / "explanations.json").write_text(jsonio.dumps(payload))
    return rows
