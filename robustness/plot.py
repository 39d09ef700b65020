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


def plot_band(certified: dict[str, Any], stem: Path) -> list[Path]:
    """The certified accuracy (lower bound) under the empirical PGD-L2 accuracy (upper bound) of the
    smoothed classifier, per L2 radius, the band between them shaded; ``stem.png`` and ``stem.svg``."""
    with figures() as plt:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        radii = certified["radii"]
        low, high = certified["certified_accuracy"], certified["empirical_accuracy"]
        ax.fill_between(radii, low, high, color="tab:blue", alpha=0.15,
                        label="where the true robust accuracy lies")
        ax.plot(radii, high, marker="o", color="tab:red", label="empirical: PGD-L2 on the smoothed model")
        ax.plot(radii, low, marker="s", color="tab:blue", label="certified (randomized smoothing)")
        if "max_radius" in certified:
            ax.axvline(certified["max_radius"], color="grey", linestyle=":",
                       label=f"largest certifiable radius at n = {certified['n']}")
        space = "pixel units" if certified.get("linf_radii") is not None else "token embeddings"
        ax.set_xlabel(f"L2 radius ({space}; sigma = {certified['sigma']:g})")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"certified vs empirical (n = {certified['inputs']}, {certified['abstained']} "
                     "abstained)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
        for path in paths:
            fig.savefig(path)
        plt.close(fig)
    return paths
