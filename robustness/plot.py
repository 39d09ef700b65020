"""The robustness curve: robust accuracy against epsilon, one line per attack plus worst case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugins.figures import figures


def plot_curve(report: dict[str, Any], stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg``; return their paths."""
    with figures() as plt:
        eps = report["eps"]
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        text = report.get("modality") == "text"
        xs = [0.0, *[e if text else e * 255 for e in eps]]
        for name, by_eps in report["attacks"].items():
            ys = [report["clean_accuracy"], *[by_eps[f"{e:.6g}"]["robust_accuracy"] for e in eps]]
            ax.plot(xs, ys, marker="o", label=f"{name} ({next(iter(by_eps.values()))['norm']})")
        worst_case = report["worst_case"]
        worst = [report["clean_accuracy"], *[worst_case[f"{e:.6g}"]["robust_accuracy"] for e in eps]]
        ax.plot(xs, worst, color="black", linestyle="--", marker="s", label="worst case")
        ax.set_xlabel("budget (relative embedding norm; fraction of words)" if text else "epsilon (x 1/255)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"robustness curve (n = {report['n']}, clean {report['clean_accuracy']:.3f})")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
        for path in paths:
            fig.savefig(path)
        plt.close(fig)
    return paths
