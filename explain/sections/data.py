"""The data card and the label check: the splits, how they were made, near-copies across them, the
classical baseline beside the model, and (from ``robustune labels``) the labels most likely wrong."""

from __future__ import annotations

from typing import Any

from explain.document import Figure, Section, Strong, Table, para
from explain.report_notes import NOTES

PAIRS = {"train-val": "validation examples copying a training one", "train-test": "holdout examples copying "
         "a training one", "val-test": "holdout examples copying a validation one"}


def data_section(sizes: dict[str, int], notes: list[str], copies: dict[str, int] | None,
                 baseline_line: str) -> Section:
    """Split sizes, the notes on how they were made, near-copy counts and the baseline's line."""
    rows = [{"split": k, "examples": v} for k, v in sizes.items()]
    blocks: list[Any] = [Table(rows, ["split", "examples"])]
    if notes:
        blocks.append(para("How the splits were made: " + "; ".join(notes) + "."))
    if copies is not None:
        if any(copies.values()):
            said = ", ".join(f"{n} {PAIRS.get(k, k)}" for k, n in copies.items() if n)
            blocks.append(para("Near-copies across the splits (cosine >= 0.99): ", Strong(said),
                               ". Copies in the holdout make its accuracy look better than it is; "
                               "retrain with --dedupe to remove them."))
        else:
            blocks.append(para("Near-copies across the splits (cosine >= 0.99): none found."))
    if baseline_line:
        blocks.append(para(baseline_line[0].upper() + baseline_line[1:] + "."))
    return Section("The data", blocks, NOTES["data"])


def labels_section(summary: dict[str, Any], gallery_png: bytes | None, top: int = 10) -> Section:
    """The likely label issues that ``robustune labels`` ranked, with their gallery."""
    issues = summary.get("issues", [])
    blocks: list[Any] = [para(Strong(f"{summary['flagged']} of {summary['examples']}"),
                              f" training and validation labels look wrong ({summary['method']}).")]
    if issues:
        rows = [{"rank": r["rank"], "id": r["id"], "split": r["split"], "given": r["given"],
                 "suggested": r["suggested"], "p(given)": r["self_confidence"],
                 **({"text": r["example"][:160]} if r.get("example") and gallery_png is None else {})}
                for r in issues[:top]]
        blocks.append(Table(rows))
    if gallery_png is not None:
        blocks.append(Figure(gallery_png, "the images most likely mislabeled",
                             "given label -> the label the cross-fitted model suggests"))
    return Section("Labels to look at again", blocks, NOTES["labels"])
