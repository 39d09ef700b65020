"""Writing an audit folder atomically: audit.json, the curve (PNG, SVG), adversarial examples."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from safetensors.torch import save_file

from plugins import jsonio
from plugins.atomic import atomic_dir
from robustness.audit import AuditResult
from robustness.plot import plot_band, plot_curve


def write_audit(result: AuditResult, out: Path, overwrite: bool = False,
                inputs: Iterable[Path | str | None] = ()) -> Path:
    """The audit folder: ``audit.json``, ``robustness_curve.{png,svg}``, ``adversarial.safetensors``
    (images) or ``adversarial_texts.json`` (texts)."""
    with atomic_dir(out, overwrite=overwrite, inputs=inputs, kind="audit") as tmp:
        (tmp / "audit.json").write_text(jsonio.dumps(result.report))
        plot_curve(result.report, tmp / "robustness_curve")
        if "certified" in result.report:
            plot_band(result.report["certified"], tmp / "certified_band")
        if result.examples:
            tensors = {k: v.detach().cpu().contiguous() for k, v in result.examples.items()}
            save_file(tensors, str(tmp / "adversarial.safetensors"))
        if result.texts:
            (tmp / "adversarial_texts.json").write_text(jsonio.dumps(result.texts))
    return out
