"""The report's "What the model relies on" section: regions a class's predictions depend on."""

from __future__ import annotations

from torch import Tensor

from explain.document import Block, Figure, Highlighted, Section, Strong, Table, para
from explain.render import region_png
from explain.report_notes import NOTES
from explain.shortcuts import ClassEvidence
from explain.text_shortcuts import WordEvidence

FIGURES = 4  # classes drawn when nothing is found


def _cell(e: ClassEvidence) -> str:
    r = e.region
    return f"border {r.frame} px" if r.frame else f"{r.x}, {r.y}, {r.size}"


def shortcut_section(evidence: list[ClassEvidence], pixels: Tensor, pred: Tensor, classes: list[str],
                     method: str) -> Section:
    """Findings in plain words first, then a table of every class's evidence and pictures of the region
    (mean image, mean map, SpRAy clusters). Shape: pixels (N, 3, H, W) in [0, 1], pred (N,)."""
    h, w = pixels.shape[-2:]
    found = [e for e in evidence if e.finding]
    blocks: list[Block] = []
    for e in found:
        name = classes[e.cls]
        evidence_of: list[str | Strong] = (
                       ["It holds ", Strong(f"{e.ratio:.1f}x"), " the attribution its area would get and is "
                        "the hot spot in ", Strong(f"{e.hot:.0%}"), f" of the {e.n} {name} images explained"]
                       if e.by == "attribution" else
                       ["The attribution maps do not point at it (it holds ", Strong(f"{e.ratio:.1f}x"),
                        f" the attribution its area would get over the {e.n} {name} images explained: "
                        "gradients can miss a frame)"])
        blocks.append(para(
            "Predictions of ", Strong(name), " depend on a region: ", Strong(e.region.where(h, w)),
            ". ", *evidence_of, "; painting it over with other images' pixels changes ",
            Strong(f"{e.removed_flips:.0%}"), " of these predictions, and pasting it onto"
            f" {e.pasted_n} images of other classes makes ", Strong(f"{e.pasted_flips:.0%}"),
            f" of them {name}. Check whether the images of this class carry something there (a stamp, a "
            "logo, a border, a scanner mark) that new images will not: if so the model learnt the mark, "
            "not the class."))
    if not found:
        blocks.append(para("No small region holds a large share of the attribution across a class and "
                           "changes predictions when painted over or pasted elsewhere: ",
                           Strong("no sign of a region shortcut"),
                           f" ({method}, {sum(e.n for e in evidence)} images in {len(evidence)} classes)."))
    rows = [{"predicted class": classes[e.cls], "images": e.n,
             "region (x, y, side)": _cell(e),
             "share / area": round(e.ratio, 2),
             "hot in": f"{e.hot:.0%}", "painted over: flips": f"{e.removed_flips:.0%}",
             "pasted elsewhere: flips": f"{e.pasted_flips:.0%}", "finding": "yes" if e.finding else "no"}
            for e in evidence]
    blocks.append(Table(rows))
    drawn = found or sorted(evidence, key=lambda e: -e.ratio)[:FIGURES]
    for e in drawn:
        mean_image = pixels[pred == e.cls][: e.n].mean(0)
        clusters = tuple((int(c["n"]), c["map"]) for c in e.clusters)
        title = f"{classes[e.cls]}: {e.n} images, {method}" + (" - the region found" if e.finding else "")
        box = (e.region.x, e.region.y, e.region.size) if e.finding and not e.region.frame else None
        png = region_png(mean_image, e.mean_map, box, title, clusters)
        blocks.append(Figure(png, f"mean attribution of {classes[e.cls]}", title))
    return Section("What the model relies on", blocks, NOTES["shortcuts"])


def word_shortcut_section(evidence: list[WordEvidence], classes: list[str], method: str, n: int) -> Section:
    """Texts: the words a class's predictions depend on, in plain words, a table of every candidate, and
    two explained texts per finding (``n``: texts explained)."""
    found = [e for e in evidence if e.finding]
    blocks: list[Block] = []
    for e in found:
        name = classes[e.cls]
        blocks.append(para(
            "Predictions of ", Strong(name), " depend on the word ", Strong(f'"{e.word}"'), f": it is in "
            f"{e.present:.0%} of the {e.n} {name} texts explained and among their highest-scored words in "
            f"{e.top:.0%} of those; deleting it changes ", Strong(f"{e.removed_flips:.0%}"), " of these "
            f"predictions, and adding it to {e.inserted_n} texts of other classes makes ",
            Strong(f"{e.inserted_flips:.0%}"), f" of them {name}. Check whether the texts of this class "
            "carry it for a reason new texts will not share (a signature, a template, a source's tag)."))
        blocks += [Highlighted(f"{name}: {e.word}", s.words, s.scores, unknown=s.unknown) for s in e.examples]
    if not found:
        blocks.append(para("No word is both among the highest-scored in most texts of a class and able to "
                           "change predictions when deleted or added: ", Strong("no sign of a word shortcut"),
                           f" ({method}, {n} texts)."))
    if evidence:
        blocks.append(Table([{"predicted class": classes[e.cls], "word": e.word,
                              "in texts": f"{e.present:.0%}", "top word in": f"{e.top:.0%}",
                              "deleted: flips": f"{e.removed_flips:.0%}",
                              "added elsewhere: flips": f"{e.inserted_flips:.0%}",
                              "finding": "yes" if e.finding else "no"} for e in evidence]))
    return Section("What the model relies on", blocks, NOTES["shortcuts_text"])
