"""The built-in job kinds, registered like a plugin's: one line each (``module:JOB``, imported on use)."""

from __future__ import annotations

from plugins.registry import Registrar

JOB_KINDS = {
    "train": "fine-tune a model and write a bundle",
    "evaluate": "metrics of a bundle on labeled data",
    "labels": "likely label issues and near-copies across the splits",
    "calibrate": "fit a bundle's calibration, prediction sets and unfamiliar-input threshold",
    "predict": "top-k labels for image files or texts",
    "audit": "attack a bundle: robustness curve and flags",
    "explain": "attributions for image files or texts",
    "report": "one self-contained HTML report",
    "run": "fine-tune, audit and report in one folder",
    "compare": "train candidates on one split and rank them",
    "tune": "search a model's settings with Optuna",
    "recommend": "ranked model suggestions for the data",
    "import": "wrap a model trained elsewhere into a bundle",
    "export": "a bundle as ONNX or a Hugging Face / timm folder",
    "demo": "the main job on offline defaults, on two datasets",
}
MODULES = {"import": "importing"}  # a job kind that is a Python keyword lives under another name


def target(kind: str) -> str:
    """Where the built-in job kind ``kind`` is declared (``module:JOB``)."""
    return f"robustune.jobs.{MODULES.get(kind, kind)}:JOB"


def register(reg: Registrar) -> None:
    """Register every built-in job kind."""
    for kind, description in JOB_KINDS.items():
        reg.register("job", kind, target(kind), description)
