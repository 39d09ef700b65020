"""The ``predict`` job: top-k labels with probabilities for image files or texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetune.predict import bundle_inputs_for_files, bundle_inputs_for_texts, top_k
from plugins.bundle import load_bundle
from plugins.errors import InvalidInput, opt
from plugins.events import Events, Reporter
from plugins.records import Result, Spec
from plugins.schema import option, require


@dataclass(frozen=True)
class PredictSpec(Spec):
    """A bundle and the inputs to classify."""

    bundle: str = option(help="bundle folder", argument=True)
    files: tuple[str, ...] = option(help="image files", argument=True, default_factory=tuple)
    texts: tuple[str, ...] = option(help="text to classify (repeatable)", flag="text", default_factory=tuple)
    top_k: int = option(3, help="labels to show per input")

    def __post_init__(self) -> None:
        require(self, [("top_k", self.top_k >= 1, "must be at least 1")])


@dataclass
class PredictOutput(Result):
    """Per input, the top labels with probabilities (most likely first)."""

    rows: list[dict[str, Any]] = field(default_factory=list)


def run(spec: PredictSpec, events: Events | Reporter | None = None) -> PredictOutput:
    """Classify the files or texts."""
    if not spec.files and not spec.texts:
        raise InvalidInput(f"give image files or texts ({opt('text')}) to predict", field="files")
    bundle = load_bundle(Path(spec.bundle))
    if spec.texts:
        names, inputs = list(spec.texts), bundle_inputs_for_texts(bundle, list(spec.texts))
    else:
        names, inputs = list(spec.files), bundle_inputs_for_files(bundle, [Path(f) for f in spec.files])
    preds = top_k(bundle, inputs, spec.top_k)
    rows = [{"input": n, "top": [{"label": lab, "probability": p} for lab, p in pr]}
            for n, pr in zip(names, preds, strict=True)]
    return PredictOutput(rows)
