"""Clean versus adversarial: how the explanation of a fooled example changes under attack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from explain.compare import pixel_maps, rank_correlation, top_k_overlap
from explain.document import Block, Figure, Gallery, Highlighted, Section, para
from explain.render import overlay_png
from explain.report_notes import NOTES
from explain.sections.config import ReportConfig
from explain.text import explain_texts
from plugins.bundle import Bundle
from plugins.jsonio import read_json

TITLE = "Clean versus adversarial"


def adversarial_section(bundle: Bundle, audit_dir: Path, report: dict[str, Any],
                        cfg: ReportConfig) -> Section:
    """From an audit folder: the worst-case adversarial examples (images) or texts (text models)."""
    if report.get("modality") == "text":
        return _adversarial_texts(bundle, audit_dir, cfg)
    ex = load_file(str(audit_dir / "adversarial.safetensors"))
    fooled = torch.nonzero(ex["pred_adv"] != ex["labels"]).flatten()[: cfg.gallery]
    if len(fooled) == 0:
        return Section(TITLE, [para("No audited example was fooled.")], NOTES["adversarial"])
    x, xa, y = ex["x"][fooled], ex["x_adv"][fooled], ex["labels"][fooled]
    method = cfg.gallery_explainer()
    a_clean, a_adv = method(bundle.model, x, y), method(bundle.model, xa, y)
    rho = rank_correlation(pixel_maps(a_clean), pixel_maps(a_adv))
    k = max(1, x.shape[-1] * x.shape[-2] // 20)
    overlap = top_k_overlap(pixel_maps(a_clean), pixel_maps(a_adv), k)
    figs = []
    for j in range(len(fooled)):
        pred = bundle.labels[int(ex["pred_adv"][fooled[j]])]
        figs.append(Figure(overlay_png(x[j], a_clean[j], f"clean: {bundle.labels[int(y[j])]}",
                                       method=method.name), "clean"))
        figs.append(Figure(overlay_png(xa[j], a_adv[j], f"adversarial: predicted {pred}", method=method.name),
                           "adversarial",
                           f"rank correlation {float(rho[j]):.2f}, top-5% overlap {float(overlap[j]):.2f}"))
    summary = para(f"Mean rank correlation {float(rho.mean()):.3f}, mean top-5% pixel overlap "
                   f"{float(overlap.mean()):.3f} over {len(fooled)} fooled examples.")
    return Section(TITLE, [summary, Gallery(figs)], NOTES["adversarial"])


def _adversarial_texts(bundle: Bundle, audit_dir: Path, cfg: ReportConfig) -> Section:
    path = audit_dir / "adversarial_texts.json"
    rows = read_json(path, "rerun robustune audit to rewrite it") if path.is_file() else []
    fooled = [r for r in rows if r["words_changed"] > 0 and r["prediction"] != r["label"]][: cfg.gallery]
    if not fooled:
        return Section(TITLE, [para("No audited text was fooled by a word-level attack.")],
                       NOTES["adversarial"])
    target = torch.tensor([bundle.labels.index(r["label"]) for r in fooled])
    max_length = bundle.meta.max_length
    method = cfg.gallery_explainer()
    clean, adv = (explain_texts(method, bundle.model, bundle.tokenizer, [r[key] for r in fooled], target,
                                max_length) for key in ("text", "adversarial"))
    blocks: list[Block] = []
    rhos = []
    for r, c, a in zip(fooled, clean, adv, strict=True):
        if len(c.scores) == len(a.scores) and len(c.scores) > 1:
            rho = float(rank_correlation(torch.tensor([c.scores]), torch.tensor([a.scores]))[0])
            rhos.append(rho)
            stat = f"rank correlation {rho:.2f}"
        else:
            stat = "word pieces differ, no correlation"
        blocks.append(Highlighted(f"clean ({r['label']})", c.words, c.scores))
        blocks.append(Highlighted(f"adversarial ({r['prediction']}, {r['words_changed']} word(s) changed, "
                                  f"{stat})",
                                  a.words, a.scores))
    mean = f"Mean rank correlation {sum(rhos) / len(rhos):.3f}. " if rhos else ""
    return Section(TITLE, [para(f"{mean}{len(fooled)} fooled texts."), *blocks], NOTES["adversarial"])
