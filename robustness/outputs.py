"""Writing an audit folder atomically: audit.json, the curve (PNG, SVG), adversarial examples."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from plugins.atomic import atomic_dir
from robustness.audit import AuditResult
from robustness.plot import plot_curve


def write_audit(result: AuditResult, out: Path, overwrite: bool = False) -> Path:
    """The audit folder: ``audit.json``, ``robustness_curve.{png,svg}``, ``adversarial.safetensors``
    (images) or ``adversarial_texts.json`` (texts)."""
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / "audit.json").write_text(json.dumps(result.report, indent=2))
        plot_curve(result.report, tmp / "robustness_curve")
        if result.examples:
            tensors = {k: v.detach().cpu().contiguous() for k, v in result.examples.items()}
            save_file(tensors, str(tmp / "adversarial.safetensors"))
        if result.texts:
            (tmp / "adversarial_texts.json").write_text(json.dumps(result.texts, indent=2))
    return out
