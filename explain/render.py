"""Pictures of explanations: image overlays (PNG) and highlighted text (HTML), self-contained."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import torch
from torch import Tensor


def heatmap(attributions: Tensor) -> Tensor:
    """Channels summed, scaled to [-1, 1] by the largest magnitude. Shape: (C, H, W) -> (H, W)."""
    a = attributions.sum(0)
    return a / a.abs().max().clamp_min(1e-12)


def overlay_png(image: Tensor, attributions: Tensor, title: str, path: Path | None = None) -> bytes:
    """The input beside its attribution map laid over it (red: for the class, blue: against).

    Shape: image (3, H, W) in [0, 1], attributions (3, H, W). Returns the PNG bytes (also
    written to ``path`` when given).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = image.permute(1, 2, 0).clamp(0, 1).numpy()
    heat = heatmap(attributions).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2), dpi=100)
    axes[0].imshow(img)
    axes[0].set_title("input", fontsize=9)
    axes[1].imshow(img.mean(-1), cmap="gray")
    shown = axes[1].imshow(heat, cmap="bwr", vmin=-1, vmax=1, alpha=0.6)
    axes[1].set_title("attribution", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    fig.suptitle(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


def png_data_uri(data: bytes) -> str:
    """A PNG as an inline ``data:`` URI (no file or network needed to view it)."""
    return "data:image/png;base64," + base64.b64encode(data).decode()


def highlight_html(words: list[str], scores: list[float]) -> str:
    """Words as spans shaded by score: red for the class, blue against, opacity by magnitude."""
    peak = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for word, score in zip(words, scores, strict=True):
        strength = abs(score) / peak
        rgb = "220,40,40" if score >= 0 else "40,90,220"
        spans.append(f'<span title="{score:+.4f}" style="background: rgba({rgb},{strength:.2f}); '
                     f'padding: 1px 2px; border-radius: 3px">{html.escape(word)}</span>')
    return " ".join(spans)


def top_words(words: list[str], scores: list[float], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words with the largest scores."""
    order = torch.tensor(scores).argsort(descending=True)[:k].tolist() if scores else []
    return [(words[i], scores[i]) for i in order]


def confusion_png(matrix: list[list[int]], classes: list[str]) -> bytes:
    """The confusion matrix as a PNG (rows: true class, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * k, 1.0 + 0.5 * k), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max((max(r) for r in matrix), default=0) or 1
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i][j] > peak / 2 else "black")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
