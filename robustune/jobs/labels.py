"""The ``labels`` job: which labels to look at again (confident learning on cross-fitted probabilities)
and which examples nearly copy one another across the splits; a CSV to edit and feed back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from finetune.run_config import RunConfig, from_options
from plugins.events import Events, Reporter, reporter
from plugins.records import Spec
from plugins.schema import option, require
from robustune.jobs import Job

if TYPE_CHECKING:
    from finetune.quality.labels import LabelsReport

OWN = ("out", "folds", "fast", "overwrite")
DEFAULT_MODELS = {"image": ("efficientnet_lite0", {"image_size": 128}), "text": ("bert", {})}


@dataclass(frozen=True)
class LabelsSpec(Spec):
    """The data and the model whose cross-fitted probabilities rank the labels."""

    not_required: ClassVar[tuple[str, ...]] = ("backbone",)  # from_options picks one by modality

    out: str = option(ref="output:", help="folder for labels.csv, duplicates.csv, labels.json "
                                                        "and issues.png")
    run: RunConfig = option(help="the data, split and model (every train option; the model defaults to "
                                 "efficientnet_lite0 at 128 px for images, bert for texts, as linear probes)")
    folds: int = option(5, ge=2, le=20, help="cross-fitting folds: each example is predicted by a model that "
                                             "never saw it")
    fast: bool = option(False, help="for a model that is not a linear probe: fit the probe on its pretrained "
                                    "backbone's features instead of training it once per fold")
    overwrite: bool = option(False, service=False, help="replace an earlier labels folder in out")

    def __post_init__(self) -> None:
        require(self, [])

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> LabelsSpec:
        """From flat options: every train option (the model optional) plus ``out``, ``folds``, ``fast``."""
        own = {k: v for k, v in options.items() if k in OWN}
        train = {k: v for k, v in options.items() if k not in OWN}
        if not train.get("backbone") and not train.get("model"):
            from finetune.model_defaults import data_modality

            model, extra = DEFAULT_MODELS.get(data_modality(str(train.get("data", ""))) or "image",
                                              DEFAULT_MODELS["image"])
            train = {**extra, **train, "backbone": model}
        out = Path(str(own.get("out", "")))
        run = from_options({**train, "out": str(out / "model")})
        return cls.from_json({**own, "out": str(out), "run": run}, lax=True)


def run(spec: LabelsSpec, events: Events | Reporter | None = None) -> LabelsReport:
    """Cross-fit, rank the likely issues, list the near-copies, write the folder."""
    from finetune.quality.labels import check_labels
    from finetune.run.prepare import resolve_names, run_inputs
    from finetune.selection.recommend import load_splits

    report = reporter(events)
    cfg = spec.run
    report.progress("loading data", 0)
    splits = load_splits(cfg)  # the splits (and edits) a training of cfg would use
    return check_labels(resolve_names(cfg, splits), splits, Path(spec.out), spec.folds, spec.fast,
                        spec.overwrite, run_inputs(cfg), report)


JOB = Job("labels", LabelsSpec, run,
          "Rank the labels most likely wrong (confident learning on cross-fitted probabilities) and list "
          "near-copies across the splits.",
          produces={"folder": "out"},
          example={"data": "digits", "model": "cnn", "epochs": 2, "folds": 3})
