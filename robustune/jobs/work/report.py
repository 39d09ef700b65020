"""The ``report`` job's work: one self-contained HTML report (model card, metrics, groups, robustness,
explanations and their quality, clean versus adversarial), and optionally a PDF."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from explain.base import Explainer
from explain.document import Section, para
from explain.pdf import find_browser, print_pdf
from explain.sections.adversarial import adversarial_section
from explain.sections.card import model_card, model_identity
from explain.sections.config import ReportConfig, explainer
from explain.sections.data import data_section, labels_section
from explain.sections.gallery import confused_first, gallery_sections
from explain.sections.metrics import bias_section, metrics_sections
from explain.sections.quality import best_method, quality_rows, quality_section, text_quality_rows
from explain.sections.robustness import certified_section, robustness_section
from explain.sections.shortcuts import shortcut_section, word_shortcut_section
from explain.sections.trust import trust_section
from explain.shortcuts import ShortcutConfig, find_shortcuts
from explain.templating import render
from explain.text import WordScores, explain_texts
from explain.text_shortcuts import TextShortcutConfig, find_word_shortcuts
from finetune.data.config import data_name
from finetune.data.spec import data_paths
from finetune.data.types import TextData
from finetune.evaluation import bundle_data, bundle_labels
from finetune.inference import predict_logits, trust_outputs
from finetune.metrics import classification_metrics
from finetune.preprocess import prepare_inputs, tokenize
from plugins.atomic import atomic_write_text, check_writable_target, output_lock
from plugins.bundle import Bundle, load_bundle
from plugins.errors import InvalidInput, NotFound, opt
from plugins.events import Events, Reporter, reporter
from plugins.registry import registry
from robustness.plot import plot_band, plot_curve
from robustness.report import read_audit_report
from robustness.uncertainty.record import evaluate_trust

if TYPE_CHECKING:
    from robustune.jobs.report import ReportSpec


def write_report(spec: ReportSpec, events: Events | Reporter | None = None) -> dict[str, Any]:
    """Write the report (and the PDF) atomically."""
    report = reporter(events)
    out = Path(spec.out)
    inputs: list[Path | str | None] = [spec.bundle, spec.audit, *data_paths(spec.data, spec.data_options())]
    targets = [out, *([out.with_suffix(".pdf")] if spec.pdf else [])]
    for target in targets:
        check_writable_target(target, spec.overwrite, inputs)
    if spec.pdf:
        find_browser()
    with output_lock(out):
        for target in targets:
            check_writable_target(target, spec.overwrite, inputs)
        page = render_report(spec, report)
        atomic_write_text(out, page)
        written = [out]
        if spec.pdf:
            report.progress("printing the PDF", 0)
            written.append(print_pdf(out, out.with_suffix(".pdf")))
    return {"files": written, "report": out}


def read_audit(audit: Path) -> tuple[Path, dict[str, Any]]:
    """(the audit folder, its checked audit.json)."""
    folder = audit if audit.is_dir() else audit.parent
    audit_file = folder / "audit.json"
    if not audit_file.is_file():
        raise NotFound(f"audit {audit} has no audit.json; run robustune audit first", field="audit")
    return folder, read_audit_report(audit_file)


def curve_png(audit: dict[str, Any]) -> bytes:
    """The audit's robustness curve as PNG bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        return plot_curve(audit, Path(tmp) / "curve")[0].read_bytes()


def band_png(certified: dict[str, Any]) -> bytes:
    """The certified band (audit --certify) as PNG bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        return plot_band(certified, Path(tmp) / "band")[0].read_bytes()


def render_report(spec: ReportSpec, report: Reporter) -> str:
    """The report's HTML."""
    cfg = spec.config()
    bundle = load_bundle(Path(spec.bundle))
    if cfg.gallery_method is not None:
        check_modality(cfg.gallery_explainer(), bundle.modality)  # before any work
    audit_dir, audit = read_audit(Path(spec.audit)) if spec.audit else (None, None)
    report.progress("report", 0, 6, "metrics")
    used, dataset = bundle_data(bundle, spec.data, "auto", spec.data_options())
    inputs = prepare_inputs(dataset, bundle.meta.preprocessing, bundle.tokenizer)
    labels = bundle_labels(dataset, bundle)
    logits, features = trust_outputs(bundle.model, bundle.meta.trust, inputs)
    pred = logits.argmax(1)
    metrics = classification_metrics(labels, pred, bundle.labels)
    sections: list[Section] = [model_card(bundle, audit), *metrics_sections(bundle.labels, metrics, used)]
    sections.append(data_card(bundle, spec, used, metrics["accuracy"]))
    if spec.labels:
        sections.append(read_labels(Path(spec.labels)))
    if bundle.meta.trust is not None:  # calibration, sets and unfamiliar inputs on the same examples
        sections.append(trust_section(evaluate_trust(logits, labels, bundle.meta.trust, bundle.labels,
                                                     features=features, tensors=bundle.trust_tensors)))
    if dataset.groups is not None:
        sections.append(bias_section(pred, labels, dataset.groups, bundle.labels, cfg.positive))
    if audit is not None:
        sections.append(robustness_section(audit, curve_png(audit)))
        if "certified" in audit:
            sections.append(certified_section(audit["certified"], band_png(audit["certified"])))
    texts = dataset.texts if isinstance(dataset, TextData) else None
    pixels = inputs["pixels"].float() / 255 if texts is None else None
    if cfg.shortcut_n:
        report.progress("report", 1, 6, "what the model relies on")
        sections.insert(1, reliance_section(bundle, pixels, texts, pred, cfg))  # right after the model card
    report.progress("report", 1, 6, "attribution quality")
    n = min(cfg.quality_n, len(dataset))
    wrong, _ = confused_first(labels, pred, n)  # the examples that teach: mistakes first, then correct ones
    taken = set(wrong.tolist())
    rest = [i for i in range(len(pred)) if i not in taken][: n - len(wrong)]
    chosen_idx = torch.cat([wrong, torch.tensor(rest, dtype=torch.long)])
    if texts is not None:
        rows = text_quality_rows(bundle, [texts[i] for i in chosen_idx.tolist()], pred[chosen_idx], cfg)
    else:
        assert pixels is not None
        rows = quality_rows(bundle.model, pixels[chosen_idx], pred[chosen_idx], cfg)
    if cfg.gallery_method is None:
        cfg = replace(cfg, gallery_method=best_method(rows))
    report.progress("report", 3, 6, "galleries")
    chosen = spec.gallery_method is not None
    sections += gallery_sections(bundle, pixels, texts, labels, pred, cfg, chosen=chosen)
    sections.append(quality_section(rows, n, bundle.modality))
    if audit is not None and audit_dir is not None:
        report.progress("report", 5, 6, "clean versus adversarial")
        sections.append(adversarial_section(bundle, audit_dir, audit, cfg))
    report.progress("report", 6, 6)
    identity = model_identity(bundle.meta)
    title = spec.title or f"{identity} on {data_name(spec.data)}"
    plugin = bundle.meta.model.backbone
    subtitle = f"The bundle {spec.bundle} (plugin {plugin}) evaluated on {spec.data}."
    return render("report.html.j2", title=title, subtitle=subtitle, sections=sections)


def data_card(bundle: Bundle, spec: ReportSpec, used: str, accuracy: float) -> Section:
    """The splits the bundle was trained on, near-copies across them (when the data is its training source)
    and its accuracy beside the classical baseline's."""
    from finetune.data.config import SplitConfig
    from finetune.data.spec import load_data
    from finetune.data.splits import make_splits
    from finetune.quality.baseline import verdict
    from finetune.quality.duplicates import across, count_by_pair

    record = bundle.meta.data
    sizes = dict(record.splits) if record is not None else {}
    notes = list(record.notes) if record is not None else []
    copies = None
    if used == "holdout" and bundle.meta.split is not None:
        splits = make_splits(load_data(spec.data, spec.data_options()), SplitConfig(**bundle.meta.split))
        copies = count_by_pair(across({"train": splits.train, "val": splits.val, "test": splits.test}))
        copies = {k: copies.get(k, 0) for k in ("train-val", "train-test", "val-test")}
    baseline = bundle.meta.baseline
    line = verdict(accuracy, baseline, "holdout") if baseline and used == "holdout" else ""
    return data_section(sizes, notes, copies, line)


def read_labels(folder: Path) -> Section:
    """The label-issues section from a ``robustune labels`` folder."""
    from plugins.jsonio import loads

    target = folder / "labels.json" if folder.is_dir() else folder
    if not target.is_file():
        raise NotFound(f"{opt('labels')} {folder} has no labels.json; run robustune labels first",
                       field="labels")
    summary = loads(target.read_text(encoding="utf-8"), str(target), "run robustune labels again")
    png = target.parent / "issues.png"
    return labels_section(summary, png.read_bytes() if png.is_file() else None)


def reliance_section(bundle: Bundle, pixels: Tensor | None, texts: list[str] | None, pred: Tensor,
                     cfg: ReportConfig) -> Section:
    """"What the model relies on": regions of images or words of texts that a class's predictions depend
    on (see explain/shortcuts.py and explain/text_shortcuts.py)."""
    method = explainer(cfg.shortcut_method, cfg.n_steps)
    if pixels is not None:
        found = find_shortcuts(bundle.model, pixels, pred, method, ShortcutConfig(per_class=cfg.shortcut_n))
        return shortcut_section(found, pixels, pred, bundle.labels, method.name)
    assert texts is not None
    max_length = bundle.meta.max_length

    def predict(batch: list[str]) -> Tensor:
        return predict_logits(bundle.model, tokenize(batch, bundle.tokenizer, max_length)).argmax(1)

    def explain(batch: list[str], target: Tensor) -> list[WordScores]:
        return explain_texts(method, bundle.model, bundle.tokenizer, batch, target, max_length)

    words = find_word_shortcuts(predict, texts, pred, explain, TextShortcutConfig(per_class=cfg.shortcut_n))
    explained = sum(min(int((pred == c).sum()), cfg.shortcut_n) for c in pred.unique().tolist())
    section = word_shortcut_section(words, bundle.labels, method.name, explained)
    from finetune.data.unknown_tokens import unknown_shares, unknown_warning

    _, share = unknown_shares(bundle.tokenizer, texts, max_length)
    if share > 0:  # what the model cannot read cannot be relied on, nor explained
        note = unknown_warning(share, "these texts") or (f"{share:.1%} of these texts' word pieces are "
                                                          "unknown to the model's tokenizer ([UNK]).")
        section.blocks.insert(0, para(note[0].upper() + note[1:]))
    return section


def check_modality(method: Explainer, modality: str) -> None:
    """Refuse an explainer that cannot explain this bundle's inputs."""
    if modality not in method.modalities:
        fit = [n for n in registry.names("explainer") if modality in registry.get("explainer", n).modalities]
        raise InvalidInput(f"{opt('gallery_method')} {method.name} explains {', '.join(method.modalities)}, "
                           f"not {modality}; use one of {', '.join(fit)}", field="gallery_method")
