"""``robustune report``: gather a bundle's evaluation, audit, explanations and bias metrics into one
self-contained HTML report (and optionally a PDF)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from explain.base import ExplainConfig, Explainer, explain_mode
from explain.bias import group_report
from explain.compare import pixel_maps, rank_correlation, top_k_overlap
from explain.methods.gradcam import find_layer
from explain.pdf import print_pdf
from explain.quality import QualityConfig, deletion_insertion, perturbation_metrics, token_curves
from explain.render import confusion_png, highlight_html, overlay_png
from explain.report import Section, esc, img_html, render_report, table_html
from explain.report_notes import NOTES
from explain.text import encode, explain_texts
from finetune.data.spec import data_paths
from finetune.data.types import DataOptions, ImageData, TextData
from finetune.evaluation import bundle_data, bundle_labels
from finetune.inference import predict_logits
from finetune.metrics import classification_metrics
from finetune.preprocess import prepare_inputs
from plugins.atomic import atomic_write_text, check_writable_target, output_lock
from plugins.bundle import Bundle, load_bundle
from plugins.errors import RobustuneError
from plugins.jsonio import read_json
from plugins.registry import registry
from robustness.plot import plot_curve


@dataclass(frozen=True)
class ReportConfig:
    """What goes into the report and how much work it may take."""

    gallery: int = 4  # examples per gallery
    quality_n: int = 8  # images the quality metrics use
    methods: tuple[str, ...] = ("integrated-gradients", "saliency", "gradcam")
    n_steps: int = 32
    positive: str | None = None  # bias metrics: the positive class


def _ig(n_steps: int) -> Any:
    return registry.get("explainer", "integrated-gradients")(ExplainConfig(n_steps=n_steps, batch_size=8))


def model_card(bundle: Bundle) -> Section:
    meta = bundle.meta
    training = meta.get("training", {})
    rows = [{"item": "model", "value": meta["model"]["backbone"]},
            {"item": "head", "value": meta["model"].get("head", "linear")},
            {"item": "adapter", "value": meta.get("adapter", {}).get("name", "-")},
            {"item": "data", "value": meta.get("data", {}).get("source", "-")},
            {"item": "split sizes", "value": ", ".join(f"{k} {v}" for k, v in
                                                     meta.get("data", {}).get("splits", {}).items()) or "-"},
            {"item": "classes", "value": ", ".join(bundle.labels)}]
    for key in ("epochs", "lr", "batch_size", "weight_decay", "adversarial", "adv_eps", "best_epoch",
                "trainable_params"):
        if key in training:
            rows.append({"item": key.replace("_", " "), "value": training[key]})
    return Section("Model card", table_html(rows, ["item", "value"]), NOTES["card"])


def metrics_sections(bundle: Bundle, metrics: dict[str, Any], used: str) -> list[Section]:
    per_class = [{"class": c, **v} for c, v in metrics["per_class"].items()]
    body = (f"<p>Accuracy <b>{metrics['accuracy']:.3f}</b>, macro-F1 <b>{metrics['macro_f1']:.3f}</b> on "
            f"{metrics['n']} examples ({esc(used)} split).</p>"
            + img_html(confusion_png(metrics["confusion_matrix"], bundle.labels), "confusion matrix"))
    columns = ["class", "precision", "recall", "f1", "support"]
    return [Section("Holdout metrics", body, NOTES["metrics"]),
            Section("Per-class results", table_html(per_class, columns), NOTES["per_class"])]


def bias_section(pred: Tensor, labels: Tensor, groups: list[str], classes: list[str],
                 positive: str | None) -> Section:
    r = group_report(pred, labels, groups, classes, positive)
    gaps = (f"<p>Largest gaps between groups: accuracy {r['accuracy_gap']:.3f}, demographic parity "
            f"difference {r['demographic_parity_difference']:.3f}, equalized-odds difference "
            f"{r['equalized_odds_difference']:.3f}.</p>")
    positive = esc(r["positive_class"] or "each class against the rest")
    return Section("Groups", table_html(r["groups"]) + gaps, NOTES["groups"].format(positive=positive))


def robustness_section(report: dict[str, Any]) -> Section:
    with tempfile.TemporaryDirectory() as tmp:
        png = plot_curve(report, Path(tmp) / "curve")[0].read_bytes()
    text = report.get("modality") == "text"
    rows = []
    for name, by_eps in report["attacks"].items():
        for key, s in by_eps.items():
            rows.append({"attack": name, "budget": float(key) if text else f"{float(key) * 255:.3g}/255",
                         "robust_accuracy": s["robust_accuracy"], "seconds": s["seconds"],
                         **({"success_rate": s["success_rate"], "words_changed": s["mean_words_changed"],
                             "queries": s["mean_queries"]} if text else {"mean_linf": s["mean_linf"]})})
    flags = "".join(f"<li class='flag'><b>{esc(f['code'])}</b>: {esc(f['message'])}</li>"
                    for f in report["flags"])
    body = (f"<p>Clean accuracy {report['clean_accuracy']:.3f} on {report['n']} examples.</p>"
            + img_html(png, "robustness curve") + table_html(rows)
            + (f"<p>Sanity flags:</p><ul>{flags}</ul>" if flags else "<p>Sanity flags: none raised.</p>"))
    meaning = NOTES["budget_text" if text else "budget_image"]
    return Section("Robustness", body, NOTES["robustness"].format(meaning=meaning))


def _image_gallery(bundle: Bundle, x: Tensor, labels: Tensor, pred: Tensor, pick: Tensor, title: str,
                   n_steps: int) -> str:
    if len(pick) == 0:
        return "<p>(none)</p>"
    attr = _ig(n_steps)(bundle.model, x[pick], pred[pick])
    figs = [img_html(overlay_png(x[i], attr[j], f"true {bundle.labels[int(labels[i])]}, predicted "
                                 f"{bundle.labels[int(pred[i])]}"), title)
            for j, i in enumerate(pick.tolist())]
    return "<div class='gallery'>" + "".join(figs) + "</div>"


def _text_gallery(bundle: Bundle, texts: list[str], labels: Tensor, pred: Tensor, pick: Tensor,
                  n_steps: int) -> str:
    if len(pick) == 0:
        return "<p>(none)</p>"
    chosen = [texts[i] for i in pick.tolist()]
    max_length = int(bundle.meta["preprocessing"]["max_length"])
    scored = explain_texts(_ig(n_steps), bundle.model, bundle.tokenizer, chosen, pred[pick], max_length)
    return "".join(f"<div class='text-example'><b>true {esc(bundle.labels[int(labels[i])])}, predicted "
                   f"{esc(bundle.labels[int(pred[i])])}</b>: {highlight_html(s.words, s.scores)}</div>"
                   for s, i in zip(scored, pick.tolist(), strict=True))


def gallery_sections(bundle: Bundle, data: ImageData | TextData, inputs: dict[str, Tensor], labels: Tensor,
                     pred: Tensor, cfg: ReportConfig) -> list[Section]:
    right = torch.nonzero(pred == labels).flatten()[: cfg.gallery]
    wrong = torch.nonzero(pred != labels).flatten()[: cfg.gallery]
    out = []
    for title, pick in (("Correct examples", right), ("Misclassified examples", wrong)):
        if isinstance(data, TextData):
            body = _text_gallery(bundle, data.texts, labels, pred, pick, cfg.n_steps)
            note = NOTES["gallery_text"]
        else:
            x = inputs["pixels"].float() / 255
            body = _image_gallery(bundle, x, labels, pred, pick, title, cfg.n_steps)
            note = NOTES["gallery_image"]
        out.append(Section(title, body, note))
    return out


def quality_section(bundle: Bundle, x: Tensor, target: Tensor, cfg: ReportConfig) -> Section:
    rows = []
    qcfg = QualityConfig(steps=16, n_perturb=4)
    for name in cfg.methods:
        if name == "gradcam":
            try:
                find_layer(bundle.model)
            except RobustuneError:
                continue
        explainer = registry.get("explainer", name)(ExplainConfig(n_steps=cfg.n_steps, batch_size=8))
        attr = explainer(bundle.model, x, target)
        row: dict[str, Any] = {"method": name, **deletion_insertion(bundle.model, x, target, attr, qcfg)}
        row.update(perturbation_metrics(bundle.model, x, target, attr, _bound(bundle, explainer), qcfg))
        rows.append(row)
    best = min(rows, key=lambda r: r["deletion_auc"] - r["deletion_auc_random"])["method"] if rows else "-"
    body = table_html(rows) + f"<p>Most faithful by deletion here: <b>{esc(best)}</b>.</p>"
    return Section("Which explanation to believe", body, NOTES["quality"].format(n=len(x)))


def text_quality_section(bundle: Bundle, texts: list[str], target: Tensor, cfg: ReportConfig) -> Section:
    """Token deletion and insertion curves per text explainer, against a random order."""
    tok = bundle.tokenizer
    enc = encode(tok, texts, int(bundle.meta["preprocessing"]["max_length"]))
    ids, mask = enc["input_ids"], enc["attention_mask"]
    editable = mask.bool() & ~torch.isin(ids, torch.tensor(sorted(set(tok.all_special_ids))))
    rows: list[dict[str, Any]] = []
    for name in ("integrated-gradients", "attention-rollout"):
        explainer = registry.get("explainer", name)(ExplainConfig(n_steps=cfg.n_steps, batch_size=8))
        try:
            with explain_mode(bundle.model, 0):
                scores = explainer.explain_tokens(bundle.model, tok, ids, mask, target)
        except RobustuneError:
            continue  # attention rollout on a model without attention maps
        curves = token_curves(bundle.model, ids, mask, target, scores, editable, int(tok.pad_token_id or 0),
                              QualityConfig(steps=10))
        rows.append({"method": name, **curves})
    best = min(rows, key=lambda r: r["deletion_auc"] - r["deletion_auc_random"])["method"] if rows else "-"
    body = table_html(rows) + f"<p>Most faithful by deletion here: <b>{esc(best)}</b>.</p>"
    return Section("Which explanation to believe", body, NOTES["quality_text"].format(n=len(texts)))


def _bound(bundle: Bundle, explainer: Explainer) -> Callable[[Tensor, Tensor], Tensor]:
    """The explainer as a function of inputs and target (for max-sensitivity)."""
    def explain(inputs: Tensor, target: Tensor) -> Tensor:
        return explainer(bundle.model, inputs, target)

    return explain


def adversarial_section(bundle: Bundle, audit_dir: Path, report: dict[str, Any],
                        cfg: ReportConfig) -> Section:
    note = NOTES["adversarial"]
    if report.get("modality") == "text":
        return _adversarial_texts(bundle, audit_dir, cfg, note)
    ex = load_file(str(audit_dir / "adversarial.safetensors"))
    fooled = torch.nonzero(ex["pred_adv"] != ex["labels"]).flatten()[: cfg.gallery]
    if len(fooled) == 0:
        return Section("Clean versus adversarial", "<p>No audited example was fooled.</p>", note)
    x, xa, y = ex["x"][fooled], ex["x_adv"][fooled], ex["labels"][fooled]
    ig = _ig(cfg.n_steps)
    a_clean, a_adv = ig(bundle.model, x, y), ig(bundle.model, xa, y)
    rho = rank_correlation(pixel_maps(a_clean), pixel_maps(a_adv))
    k = max(1, x.shape[-1] * x.shape[-2] // 20)
    overlap = top_k_overlap(pixel_maps(a_clean), pixel_maps(a_adv), k)
    figs = []
    for j in range(len(fooled)):
        pred = bundle.labels[int(ex["pred_adv"][fooled[j]])]
        figs.append(img_html(overlay_png(x[j], a_clean[j], f"clean: {bundle.labels[int(y[j])]}"), "clean"))
        figs.append(img_html(overlay_png(xa[j], a_adv[j], f"adversarial: predicted {pred}"), "adversarial",
                             f"rank correlation {float(rho[j]):.2f}, top-5% overlap {float(overlap[j]):.2f}"))
    body = (f"<p>Mean rank correlation {float(rho.mean()):.3f}, mean top-5% pixel overlap "
            f"{float(overlap.mean()):.3f} over {len(fooled)} fooled examples.</p>"
            "<div class='gallery'>" + "".join(figs) + "</div>")
    return Section("Clean versus adversarial", body, note)


def _adversarial_texts(bundle: Bundle, audit_dir: Path, cfg: ReportConfig, note: str) -> Section:
    path = audit_dir / "adversarial_texts.json"
    rows = read_json(path, "rerun robustune audit to rewrite it") if path.is_file() else []
    fooled = [r for r in rows if r["words_changed"] > 0 and r["prediction"] != r["label"]][: cfg.gallery]
    if not fooled:
        none = "<p>No audited text was fooled by a word-level attack.</p>"
        return Section("Clean versus adversarial", none, note)
    target = torch.tensor([bundle.labels.index(r["label"]) for r in fooled])
    max_length = int(bundle.meta["preprocessing"]["max_length"])
    ig = _ig(cfg.n_steps)
    clean, adv = (explain_texts(ig, bundle.model, bundle.tokenizer, [r[key] for r in fooled], target,
                                max_length) for key in ("text", "adversarial"))
    parts, rhos = [], []
    for r, c, a in zip(fooled, clean, adv, strict=True):
        if len(c.scores) == len(a.scores) and len(c.scores) > 1:
            rho = float(rank_correlation(torch.tensor([c.scores]), torch.tensor([a.scores]))[0])
            rhos.append(rho)
            stat = f"rank correlation {rho:.2f}"
        else:
            stat = "word pieces differ, no correlation"
        parts.append(f"<div class='text-example'><b>clean ({esc(r['label'])})</b>: "
                     f"{highlight_html(c.words, c.scores)}<br><b>adversarial ({esc(r['prediction'])}, "
                     f"{r['words_changed']} word(s) changed, {stat})</b>: "
                     f"{highlight_html(a.words, a.scores)}</div>")
    mean = f"Mean rank correlation {sum(rhos) / len(rhos):.3f}. " if rhos else ""
    body = f"<p>{mean}{len(fooled)} fooled texts.</p>" + "".join(parts)
    return Section("Clean versus adversarial", body, note)


def build_report(bundle_path: Path, data: str, out: Path, audit: Path | None = None, pdf: bool = False,
                 options: DataOptions | None = None, cfg: ReportConfig | None = None,
                 overwrite: bool = False) -> list[Path]:
    """Write ``out`` (HTML) and, with ``pdf``, ``out`` with a .pdf suffix; return their paths."""
    cfg = cfg or ReportConfig()
    options = options or DataOptions()
    inputs = [bundle_path, audit, *data_paths(data, options)]
    with output_lock(out):
        for target in [out, *([out.with_suffix(".pdf")] if pdf else [])]:
            check_writable_target(target, overwrite, inputs)
        return _build(bundle_path, data, out, audit, pdf, options, cfg)


AUDIT_KEYS = ("attacks", "eps", "clean_accuracy", "n", "flags", "worst_case")


def read_audit(audit: Path) -> tuple[Path, dict[str, Any]]:
    """(the audit folder, its audit.json), with one-line errors for a missing or foreign file."""
    folder = audit if audit.is_dir() else audit.parent
    audit_file = folder / "audit.json"
    if not audit_file.is_file():
        raise RobustuneError(f"audit {audit} has no audit.json; run robustune audit first")
    fix = "rerun robustune audit to rewrite it"
    report = read_json(audit_file, fix)
    missing = [k for k in AUDIT_KEYS if not isinstance(report, dict) or k not in report]
    if missing:
        raise RobustuneError(f"{audit_file} is not an audit report (no field {missing[0]}); {fix}")
    return folder, report


def _build(bundle_path: Path, data: str, out: Path, audit: Path | None, pdf: bool, options: DataOptions,
           cfg: ReportConfig) -> list[Path]:
    if pdf:
        from explain.pdf import find_browser

        find_browser()
    bundle = load_bundle(bundle_path)
    audit_report = None
    if audit is not None:
        audit, audit_report = read_audit(audit)
    used, dataset = bundle_data(bundle, data, "auto", options)
    inputs = prepare_inputs(dataset, bundle.meta["preprocessing"], bundle.tokenizer)
    labels = bundle_labels(dataset, bundle)
    pred = predict_logits(bundle.model, inputs).argmax(1)
    metrics = classification_metrics(labels, pred, bundle.labels)
    sections = [model_card(bundle), *metrics_sections(bundle, metrics, used)]
    if dataset.groups is not None:
        sections.append(bias_section(pred, labels, dataset.groups, bundle.labels, cfg.positive))
    if audit_report is not None:
        sections.append(robustness_section(audit_report))
    sections += gallery_sections(bundle, dataset, inputs, labels, pred, cfg)
    if isinstance(dataset, ImageData):
        n = min(cfg.quality_n, len(dataset))
        sections.append(quality_section(bundle, inputs["pixels"][:n].float() / 255, pred[:n], cfg))
    else:
        n = min(cfg.quality_n, len(dataset))
        assert isinstance(dataset, TextData)
        sections.append(text_quality_section(bundle, dataset.texts[:n], pred[:n], cfg))
    if audit_report is not None and audit is not None:
        sections.append(adversarial_section(bundle, audit, audit_report, cfg))
    page = render_report(f"robustune report: {bundle_path.name}",
                         f"{bundle.meta['model']['backbone']} evaluated on {data}", sections)
    atomic_write_text(out, page)
    written = [out]
    if pdf:
        written.append(print_pdf(out, out.with_suffix(".pdf")))
    return written

