"""Validation curves of several runs in one figure (PNG and SVG, written atomically)."""

from __future__ import annotations

import io
from pathlib import Path

from plugins.atomic import atomic_write_bytes
from plugins.figures import figures


def plot_curves(curves: dict[str, list[float]], path: Path, title: str, ylabel: str = "validation accuracy",
                xlabel: str = "epoch") -> list[Path]:
    """One line per name; writes ``path`` (.png) and the same name with .svg."""
    with figures() as plt:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for name, values in curves.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        written = []
        for suffix in (".png", ".svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=suffix[1:], dpi=120)
            target = path.with_suffix(suffix)
            atomic_write_bytes(target, buf.getvalue())
            written.append(target)
        plt.close(fig)
    return written
