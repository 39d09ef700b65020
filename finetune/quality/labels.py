"""``robustune labels``: likely label issues (confident learning on cross-fitted probabilities) and
near-duplicates across the splits, written into one folder.

``OUT/labels.csv``: the likely issues, most likely first (rank, id, split, given, suggested, self-confidence
and the text or file); delete the rows you disagree with, fix ``suggested`` where needed, and feed it back
with ``train --relabel`` or ``--drop``. ``OUT/duplicates.csv``: near-copies across train, validation and
holdout. ``OUT/labels.json``: the summary. ``OUT/issues.png``: the top images, given -> suggested.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.data.splits import Splits
from finetune.data.types import ImageData, TextData
from finetune.quality.crossfit import CrossFit, cross_fit
from finetune.quality.duplicates import Copy, across, count_by_pair
from finetune.quality.issues import Issues, find_issues
from finetune.run_config import RunConfig
from plugins import jsonio
from plugins.atomic import atomic_write_bytes, atomic_write_text, check_writable_target
from plugins.events import Reporter, reporter
from plugins.records import Result

FIELDS = ("rank", "id", "split", "given", "suggested", "self_confidence", "example")
GALLERY = 16  # images in issues.png


@dataclass
class LabelsReport(Result):
    """What ``labels`` found: the ranked issues, the near-copies and the files."""

    out: Path
    method: str
    examples: int
    flagged: int
    rows: list[dict[str, Any]]  # the issues, most likely first
    duplicates: dict[str, int]  # "train-test" -> examples of the second split copying the first
    seconds: float
    files: list[Path] = field(default_factory=list)


def _example(data: Any, i: int) -> str:
    if isinstance(data, TextData):
        return data.texts[i]
    names = getattr(data, "names", None)
    return names[i] if names else ""


def issue_rows(fitted: CrossFit, issues: Issues) -> list[dict[str, Any]]:
    """The flagged examples as rows, most likely mislabeled first."""
    data = fitted.data
    ids = data.ids or [str(i) for i in range(len(data))]
    rows = []
    for rank, i in enumerate(issues.order[issues.flagged[issues.order]].tolist(), 1):
        rows.append({"rank": rank, "id": ids[i], "split": fitted.splits[i],
                     "given": data.classes[int(data.labels[i])],
                     "suggested": data.classes[int(issues.suggested[i])],
                     "self_confidence": round(float(issues.self_confidence[i]), 4),
                     "example": _example(data, i), "index": i})
    return rows


def _csv(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _copy_rows(copies: list[Copy], splits: Splits) -> list[dict[str, Any]]:
    def ident(split: str, i: int) -> str:
        ids = getattr(splits, split).ids
        return ids[i] if ids else str(i)
    return [{"split_a": c.split_a, "id_a": ident(c.split_a, c.a), "split_b": c.split_b,
             "id_b": ident(c.split_b, c.b), "cosine": round(c.cosine, 4)} for c in copies]


def issue_gallery(data: ImageData, rows: list[dict[str, Any]], path: Path) -> Path | None:
    """A grid of the top issues' images titled "given -> suggested" (PNG)."""
    from plugins.figures import figures

    shown = rows[:GALLERY]
    if not shown:
        return None
    cols = min(8, len(shown))
    nrows = -(-len(shown) // cols)
    with figures() as plt:
        fig, axes = plt.subplots(nrows, cols, figsize=(1.6 * cols, 2.2 * nrows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, row in zip(axes.flat, shown, strict=False):
            img = data.images[row["index"]]
            pixels = img.permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, interpolation="nearest")
            ax.set_title(f"#{row['rank']} given {row['given']}\n-> {row['suggested']}", fontsize=7)
        fig.suptitle("likely label issues: given -> suggested", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return path


def write_files(out: Path, fitted: CrossFit, rows: list[dict[str, Any]], copies: list[Copy], splits: Splits,
                summary: dict[str, Any]) -> list[Path]:
    """Each file written atomically into OUT, labels.json (what says the folder is complete) last."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "labels.csv", out / "duplicates.csv", out / "probabilities.json"]
    atomic_write_text(files[0], _csv(rows, FIELDS))
    columns = ("split_a", "id_a", "split_b", "id_b", "cosine")
    atomic_write_text(files[1], _csv(_copy_rows(copies, splits), columns))
    probs = [[round(p, 5) for p in row] for row in fitted.probs.tolist()]
    atomic_write_text(files[2], jsonio.dumps({"ids": fitted.data.ids, "labels": fitted.data.labels.tolist(),
                                              "probs": probs}))
    if isinstance(fitted.data, ImageData):
        with tempfile.TemporaryDirectory() as tmp:
            made = issue_gallery(fitted.data, rows, Path(tmp) / "issues.png")
            if made is not None:
                atomic_write_bytes(out / "issues.png", made.read_bytes())
                files.append(out / "issues.png")
    atomic_write_text(out / "labels.json", jsonio.dumps({**summary, "probabilities": "probabilities.json"}))
    return [*files, out / "labels.json"]


def check_labels(cfg: RunConfig, splits: Splits, out: Path, folds: int = 5, fast: bool = False,
                 overwrite: bool = False, inputs: list[Any] | None = None,
                 events: Reporter | None = None) -> LabelsReport:
    """Cross-fit, rank the likely issues, list near-copies across splits, and write OUT."""
    report = reporter(events)
    check_writable_target(out / "labels.json", overwrite, inputs or [])
    fitted = cross_fit(cfg, splits, folds, fast, report.part(0, 2))
    issues = find_issues(fitted.probs, fitted.data.labels)
    rows = issue_rows(fitted, issues)
    report.progress("near-duplicates", 0, 1)
    copies = across({"train": splits.train, "val": splits.val, "test": splits.test})
    counts = count_by_pair(copies)
    report.progress("near-duplicates", 1, 1)
    classes = fitted.data.classes
    summary = {
        "method": fitted.method, "folds": folds, "examples": len(fitted.data), "flagged": len(rows),
        "thresholds": {c: round(float(t), 4)
                       for c, t in zip(classes, issues.thresholds.tolist(), strict=True)},
        "issues": [{k: v for k, v in r.items() if k != "index"} for r in rows[:100]],
        "duplicates": {"threshold": 0.99, "by_pair": counts, "pairs": _copy_rows(copies[:100], splits)},
        "seconds": round(fitted.seconds, 1),
        "note": "issues: confident learning (per-class thresholds on out-of-sample probabilities), ranked by "
                "the probability of the given label; holdout examples are not checked",
    }
    files = write_files(out, fitted, rows, copies, splits, summary)
    return LabelsReport(out, fitted.method, len(fitted.data), len(rows), rows, counts, fitted.seconds, files)
