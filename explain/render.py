"""Pictures of explanations: image overlays (PNG) and highlighted text (HTML), self-contained."""

from __future__ import annotations

import base64
import html
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from plugins.atomic import atomic_write_bytes
from plugins.figures import figures

# Captum's heat-map colours are faint when blended over a photo; a perceptual colour map stays legible.
HEAT_CMAP = "inferno"


@dataclass(frozen=True)
class Overlay:
    """A drawn attribution: the PNG, and the heat map it shows (Captum's normalisation: channels
    summed, the sign applied, scaled so the top ``outlier_perc`` percent saturate)."""

    png: bytes
    heat: np.ndarray  # (H, W); [0, 1] for signs absolute_value and positive, [-1, 1] for all


def overlay(image: Tensor, attributions: Tensor, title: str, method: str = "attribution",
            sign: str = "absolute_value", path: Path | None = None) -> Overlay:
    """The input beside Captum's blended heat map of its attributions (outliers clipped at 2%).

    Shape: image (3, H, W) in [0, 1], attributions (3, H, W). ``title`` (if any) goes above both; the
    PNG is also written to ``path``.
    """
    from captum.attr import visualization

    img = image.detach().permute(1, 2, 0).clamp(0, 1).float().numpy()
    attr = attributions.detach().permute(1, 2, 0).float().numpy()
    attr, blank = drawable(attr, sign)
    with figures() as plt:
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.4), dpi=100)
        axes[0].imshow(img)
        axes[0].set_title("input", fontsize=9)
        axes[0].axis("off")
        if blank:  # nothing to scale: Captum would assert (scale factor 0); drawn flat, with the reason
            axes[1].imshow(img)
            axes[1].imshow(np.zeros(img.shape[:2]), cmap=HEAT_CMAP, vmin=0, vmax=1, alpha=0.55)
            axes[1].set_title(f"{method}: {blank}", fontsize=9)
            axes[1].axis("off")
        else:
            with warnings.catch_warnings():  # a near-zero map: Captum warns and draws it flat, as it should
                warnings.filterwarnings("ignore", message="Attempting to normalize by value approximately 0")
                visualization.visualize_image_attr(
                    attr, img, method="blended_heat_map", sign=sign, plt_fig_axis=(fig, axes[1]),
                    outlier_perc=2, cmap=HEAT_CMAP, alpha_overlay=0.55, show_colorbar=True,
                    title=f"{method} ({sign.replace('_', ' ')})", use_pyplot=False)
        axes[1].title.set_fontsize(9)
        heat = np.asarray(axes[1].images[-1].get_array())
        if title:
            fig.suptitle(title, fontsize=9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        atomic_write_bytes(path, data)
    return Overlay(data, heat)


def drawable(attr: np.ndarray, sign: str = "absolute_value") -> tuple[np.ndarray, str | None]:
    """The map Captum can draw (non-finite values as 0), and why there is nothing to draw, if so: a map
    that is zero (or, for the sign shown, has no part of that sign) everywhere.

    Shape: attr (H, W, C).
    """
    finite = np.isfinite(attr)
    attr = np.where(finite, attr, 0.0)
    summed = attr.sum(axis=-1)
    shown = {"positive": np.maximum(summed, 0), "negative": np.maximum(-summed, 0)}.get(sign, np.abs(summed))
    if not finite.any():
        return attr, "no attribution: it is not a number here"
    if not shown.any():
        return attr, ("no attribution: the gradient is zero here" if not summed.any()
                      else f"no {sign} attribution here")
    return attr, None


def overlay_png(image: Tensor, attributions: Tensor, title: str, path: Path | None = None,
                method: str = "attribution") -> bytes:
    """The PNG of :func:`overlay`. Shape: image (3, H, W) in [0, 1], attributions (3, H, W)."""
    return overlay(image, attributions, title, method, path=path).png


def png_data_uri(data: bytes) -> str:
    """A PNG as an inline ``data:`` URI (no file or network needed to view it)."""
    return "data:image/png;base64," + base64.b64encode(data).decode()


def highlight_html(words: list[str], scores: list[float]) -> str:
    """Words as spans shaded by score: red for the class, blue against, opacity by magnitude (a score
    that is not a number shows as 0)."""
    scores = [s if np.isfinite(s) else 0.0 for s in scores]
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


def reliability_png(raw: dict[str, list[Any]], calibrated: dict[str, list[Any]]) -> bytes:
    """The reliability diagram: per confidence bin, accuracy against mean confidence, raw and calibrated
    (empty bins left out), and the diagonal a calibrated model follows."""
    with figures() as plt:
        fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=100)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated exactly")
        for curve, name, marker in ((raw, "raw", "o"), (calibrated, "calibrated", "s")):
            kept = [(p, a) for p, a, n in zip(curve["confidence"], curve["accuracy"], curve["count"],
                                               strict=True) if n]
            ax.plot([p for p, _ in kept], [a for _, a in kept], marker=marker, label=name)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return buf.getvalue()


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG relative luminance of an sRGB colour in [0, 1]."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_colour(background: tuple[float, float, float]) -> tuple[str, float]:
    """Black or white, whichever reads better on ``background``, and its WCAG contrast ratio (at least
    4.58 for any background)."""
    lum = luminance(background)
    black, white = (lum + 0.05) / 0.05, 1.05 / (lum + 0.05)
    return ("black", black) if black >= white else ("white", white)


def cell_colours(matrix: list[list[int]], cmap: str = "Blues") -> list[list[tuple[float, float, float]]]:
    """The background colour of each confusion-matrix cell as drawn (``cmap`` over 0..the largest count)."""
    from matplotlib import colormaps

    peak = max((max(r) for r in matrix), default=0) or 1
    scale = colormaps[cmap]
    return [[tuple(scale(v / peak)[:3]) for v in row] for row in matrix]  # type: ignore[misc]


def confusion_png(matrix: list[list[int]], classes: list[str]) -> bytes:
    """The confusion matrix as a PNG (rows: true class, columns: predicted); each count in black or white,
    whichever has the higher contrast on its cell."""
    k = len(classes)
    colours = cell_colours(matrix)
    with figures() as plt:
        fig, ax = plt.subplots(figsize=(1.2 + 0.55 * k, 1.0 + 0.5 * k), dpi=100)
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max((max(r) for r in matrix), default=0) or 1)
        ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=7,
                        color=text_colour(colours[i][j])[0])
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return buf.getvalue()


def region_png(image: Tensor, mean_map: Tensor, box: tuple[int, int, int] | None, title: str,
               clusters: tuple[tuple[int, Tensor], ...] = ()) -> bytes:
    """A class's mean image and mean attribution map, the region found drawn as a box on both, then the
    mean map of each SpRAy cluster with its size. Shape: image (3, H, W) in [0, 1], maps (H, W); box
    (x, y, size)."""
    from matplotlib.patches import Rectangle

    panels = 2 + len(clusters)
    with figures() as plt:
        fig, axes = plt.subplots(1, panels, figsize=(2.4 * panels, 2.7), dpi=100)
        shown = [(image.permute(1, 2, 0).clamp(0, 1).float().numpy(), None, "mean image"),
                 (mean_map.float().numpy(), HEAT_CMAP, "mean attribution"),
                 *[(m.float().numpy(), HEAT_CMAP, f"cluster of {n}") for n, m in clusters]]
        for ax, (picture, cmap, name) in zip(axes, shown, strict=True):
            ax.imshow(picture, cmap=cmap, interpolation="nearest")
            ax.set_title(name, fontsize=9)
            ax.axis("off")
            if box is not None:
                x, y, s = box
                ax.add_patch(Rectangle((x - 0.5, y - 0.5), s, s, fill=False, edgecolor="#00e5ff",
                                       linewidth=2))
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return buf.getvalue()
