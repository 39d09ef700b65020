"""The ``explain`` job: attributions for image files (overlay PNGs) or texts (highlighted words)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from explain.config import ExplainConfig
from plugins.errors import InvalidInput, opt
from plugins.events import Events, Reporter
from plugins.numerics import PRECISION_HELP, PRECISIONS
from plugins.records import Result, Spec
from plugins.schema import option, require
from robustune.jobs import Job


@dataclass(frozen=True)
class ExplainSpec(Spec):
    """Which bundle, which inputs, which method (and the method's settings)."""

    ONE_OF: ClassVar = (("files",), ("texts",))  # image files or texts

    bundle: str = option(ref="model", help="bundle folder", argument=True)
    files: tuple[str, ...] = option(ref="upload", help="image files", argument=True, default_factory=tuple)
    texts: tuple[str, ...] = option(help="text to explain (repeatable)", flag="text", default_factory=tuple)
    method: str = option("integrated-gradients", help="explainer plugin (see robustune plugins)")
    precision: str = option("auto", choices=PRECISIONS, help=PRECISION_HELP)
    device: str = option("auto", choices=("auto", "cpu", "cuda"),
                         help="auto (a GPU when present), cpu or cuda")
    target: str | None = option(None, help="class to explain (default: the predicted one)")
    out: str | None = option(None, ref="output:explanations",
                             help="output folder (default: BUNDLE/explanations)")
    n_steps: int = option(50, ge=1, help="integrated gradients: path steps")
    layer: str | None = option(None, help="gradcam: layer name (default: the last convolutional stage)")
    base: str = option("saliency", help="smoothgrad: the explainer it averages")
    n_samples: int = option(20, ge=1, help="smoothgrad / gradient-shap samples")
    window: int = option(8, ge=1, help="occlusion: window side in pixels")
    overwrite: bool = option(False, service=False,
                             help="replace an existing output folder that robustune wrote")
    explain_options: dict[str, Any] = option(help="the explainer's own options, KEY=VALUE,...", parse="kv",
                                             default_factory=dict)
    skip_corrupt: bool = option(False, help="image files: skip unreadable ones (their count is reported)")

    def __post_init__(self) -> None:
        if bool(self.files) == bool(self.texts):
            raise InvalidInput(f"give image files or texts ({opt('text')}) to explain, one of the two",
                               field="files")
        require(self, [])

    @property
    def folder(self) -> Path:
        """Where the explanations are written."""
        return Path(self.out) if self.out else Path(self.bundle) / "explanations"

    def config(self) -> ExplainConfig:
        """The method's settings."""
        return ExplainConfig(n_steps=self.n_steps, layer=self.layer, base=self.base, n_samples=self.n_samples,
                             window=self.window, stride=max(1, self.window // 2))


@dataclass
class ExplainOutput(Result):
    """The output folder and one row per input (prediction, explained class, files or top words)."""

    out: Path
    method: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def run(spec: ExplainSpec, events: Events | Reporter | None = None) -> ExplainOutput:
    """Explain each input for its predicted class (or ``target``) and write the folder atomically."""
    from robustune.jobs.work.explain import explain

    return ExplainOutput(**explain(spec, events))


JOB = Job("explain", ExplainSpec, run,
          "Attributions for image files (overlay PNGs) or texts (highlighted words in HTML).",
          produces={"explanations": "out"},
          example={"bundle": "bert-rotten-tomatoes", "texts": ["a warm, funny film"]})
