"""The report's "What the model relies on" section: regions a class's predictions depend on."""

from __future__ import annotations

from torch import Tensor

from explain.document import Block, Figure, Section, Strong, Table, para
from explain.render import region_png
from explain.report_notes import NOTES
from explain.shortcuts import ClassEvidence

FIGURES = 4  # classes drawn when nothing is found


def _where(e: ClassEvidence, h: int, w: int) -> str:
    r = e.region
    return f"{r.describe(h, w)} (x {r.x}-{r.x + r.size - 1}, y {r.y}-{r.y + r.size - 1} of the {w}x{h} input)"


def shortcut_section(evidence: list[ClassEvidence], pixels: Tensor, pred: Tensor, classes: list[str],
                     method: str) -> Section:
    """Findings in plain words first, then a table of every class's evidence and pictures of the region
    (mean image, mean map, SpRAy clusters). Shape: pixels (N, 3, H, W) in [0, 1], pred (N,)."""
    h, w = pixels.shape[-2:]
    found = [e for e in evidence if e.finding]
    blocks: list[Block] = []
    for e in found:
        name = classes[e.cls]
        blocks.append(para(
            "Predictions of ", Strong(name), " depend on a small region: ", Strong(_where(e, h, w)),
            ". It holds ", Strong(f"{e.ratio:.1f}x"), " the attribution its area would get, is the hot spot "
            "in ",
            Strong(f"{e.hot:.0%}"), f" of the {e.n} {name} images explained; painting it over with other "
            "images' pixels changes ", Strong(f"{e.removed_flips:.0%}"), " of these predictions, and pasting "
            f"it onto {e.pasted_n} images of other classes makes ", Strong(f"{e.pasted_flips:.0%}"),
            f" of them {name}. Check whether the images of this class carry something there (a stamp, a "
            "logo, a border, a scanner mark) that new images will not: if so the model learnt the mark, "
            "not the class."))
    if not found:
        blocks.append(para("No small region holds a large share of the attribution across a class and "
                           "changes predictions when painted over or pasted elsewhere: ",
                           Strong("no sign of a region shortcut"),
                           f" ({method}, {sum(e.n for e in evidence)} images in {len(evidence)} classes)."))
    rows = [{"predicted class": classes[e.cls], "images": e.n, "region (x, y, side)":
             f"{e.region.x}, {e.region.y}, {e.region.size}", "share / area": round(e.ratio, 2),
             "hot in": f"{e.hot:.0%}", "painted over: flips": f"{e.removed_flips:.0%}",
             "pasted elsewhere: flips": f"{e.pasted_flips:.0%}", "finding": "yes" if e.finding else "no"}
            for e in evidence]
    blocks.append(Table(rows))
    drawn = found or sorted(evidence, key=lambda e: -e.ratio)[:FIGURES]
    for e in drawn:
        mean_image = pixels[pred == e.cls][: e.n].mean(0)
        clusters = tuple((int(c["n"]), c["map"]) for c in e.clusters)
        title = f"{classes[e.cls]}: {e.n} images, {method}" + (" - the region found" if e.finding else "")
        box = (e.region.x, e.region.y, e.region.size) if e.finding else None
        png = region_png(mean_image, e.mean_map, box, title, clusters)
        blocks.append(Figure(png, f"mean attribution of {classes[e.cls]}", title))
    return Section("What the model relies on", blocks, NOTES["shortcuts"])
