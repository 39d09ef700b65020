"""The robustness section: the audit's curve, its numbers per attack and budget, and its flags."""

from __future__ import annotations

from typing import Any

from explain.document import Block, Figure, Flags, Section, Strong, Table, para
from explain.report_notes import NOTES


def robustness_section(report: dict[str, Any], curve_png: bytes) -> Section:
    """From an audit report (``audit.json``) and its robustness curve (a PNG)."""
    text = report.get("modality") == "text"
    rows = []
    for name, by_eps in report["attacks"].items():
        for key, s in by_eps.items():
            rows.append({"attack": name, "budget": float(key) if text else f"{float(key) * 255:.3g}/255",
                         "robust_accuracy": s["robust_accuracy"], "seconds": s["seconds"],
                         **({"success_rate": s["success_rate"], "words_changed": s["mean_words_changed"],
                             "queries": s["mean_queries"]} if text else {"mean_linf": s["mean_linf"]})})
    blocks: list[Block] = [para(f"Clean accuracy {report['clean_accuracy']:.3f} on {report['n']} examples."),
              Figure(curve_png, "robustness curve"), Table(rows), Flags(report["flags"])]
    meaning = NOTES["budget_text" if text else "budget_image"]
    return Section("Robustness", blocks, NOTES["robustness"].format(meaning=meaning))


def certified_section(certified: dict[str, Any], band_png: bytes) -> Section:
    """audit --certify: the band between the certified (lower) and empirical (upper) robust accuracy of the
    smoothed classifier, per L2 radius, and what it means in one sentence."""
    low, high = certified["certified_accuracy"], certified["empirical_accuracy"]
    linf = certified.get("linf_radii") or [None] * len(low)
    rows = [{"L2 radius": r, "certified (at least)": lo, "empirical PGD-L2 (at most)": hi,
             **({"L-inf implied": f"{li * 255:.2f}/255"} if li is not None else {})}
            for r, lo, hi, li in zip(certified["radii"], low, high, linf, strict=True)]
    r = next((x for x in certified["radii"] if x > 0), 0.25)
    i = certified["radii"].index(r)
    sure = f"{1 - certified['alpha']:.1%}"
    texts = certified.get("linf_radii") is None
    blocks: list[Block] = [
        *([para("Texts are smoothed and certified on their token embeddings: the radius is an L2 distance "
                "between embeddings, not a number of words.")] if texts else []),
        para("For inputs within an L2 distance of ", Strong(f"{r:g}"), " of these examples, the smoothed "
             "model's true robust accuracy lies between ", Strong(f"{low[i]:.1%}"), " (certified: on those "
             "inputs no change that small alters the answer, with probability ", Strong(sure), ") and ",
             Strong(f"{high[i]:.1%}"), " (what PGD-L2 achieved against it)."),
        Figure(band_png, "certified and empirical robust accuracy", f"sigma {certified['sigma']:g}; "
               f"{certified['abstained']} of {certified['inputs']} inputs abstained on"),
        Table(rows)]
    return Section("Certified robustness", blocks, NOTES["certified"])
