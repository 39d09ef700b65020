"""The ``report`` job: one self-contained HTML report of a bundle (model card, metrics, robustness, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from explain.sections.config import ReportConfig
from finetune.data.config import DataOptions
from plugins.events import Events, Reporter
from plugins.records import Result, Spec
from plugins.registry import registry
from plugins.schema import option, require
from robustune.jobs import Job


@dataclass(frozen=True)
class ReportSpec(Spec):
    """Which bundle, evaluated on which data, with which audit, written where."""

    bundle: str = option(ref="model", help="bundle folder", argument=True)
    data: str = option(ref="dataset",
                       help="labeled data; its holdout is used when it is the bundle's training source")
    out: str = option(ref="output:report.html", help="HTML file to write, e.g. report.html")
    audit: str | None = option(None, ref="job-output:audit",
                               help="an audit folder or its audit.json (the robustness sections)")
    pdf: bool = option(False, help="also print a PDF next to the HTML (needs Chromium)")
    group_column: str | None = option(None, min_length=1,
                                      help="CSV column naming each row's group (bias metrics)")
    groups: str | None = option(None, ref="upload", help="images: a CSV path,group mapping files to groups")
    positive: str | None = option(None, help="bias metrics: the positive class (default: the second label)")
    text_column: str = option("text", min_length=1, help="CSV: the text column")
    label_column: str = option("label", min_length=1, help="CSV: the label column")
    gallery: int = option(4, ge=0, help="examples per gallery")
    n_steps: int = option(32, ge=1, help="integrated-gradients steps")
    quality_n: int = option(8, ge=1, help="examples the attribution-quality metrics use")
    shortcut_n: int = option(16, ge=0, help="per predicted class, images or texts explained to look for "
                                            "what the model relies on (0: skip)")
    overwrite: bool = option(False, service=False, help="replace an existing out file that robustune wrote")
    gallery_method: str | None = option(None, help="the galleries' explainer (default: the page's most "
                                        "faithful by deletion)")
    title: str | None = option(None, help="the report's title (default: the model and the data)")
    skip_corrupt: bool = option(False, help="skip unreadable images (their count is reported)")
    labels: str | None = option(None, ref="job-output:folder",
                                help="a robustune labels folder: adds the labels most likely wrong")

    def __post_init__(self) -> None:
        require(self, [])
        if self.gallery_method is not None:
            registry.entry("explainer", self.gallery_method)  # an unknown name fails before any work

    def data_options(self) -> DataOptions:
        """Column names and group sources for the data."""
        return DataOptions(text_column=self.text_column, label_column=self.label_column,
                           skip_corrupt=self.skip_corrupt,
                           group_column=self.group_column, groups_file=self.groups)

    def config(self) -> ReportConfig:
        """What goes into the report."""
        return ReportConfig(gallery=self.gallery, quality_n=self.quality_n, n_steps=self.n_steps,
                            positive=self.positive, gallery_method=self.gallery_method,
                            shortcut_n=self.shortcut_n)


@dataclass
class ReportOutput(Result):
    """The files written: the HTML and, when asked, the PDF; ``report``: the HTML."""

    files: list[Path] = field(default_factory=list)
    report: Path | None = None


def run(spec: ReportSpec, events: Events | Reporter | None = None) -> ReportOutput:
    """Write the report (and the PDF) atomically."""
    from robustune.jobs.work.report import write_report

    return ReportOutput(**write_report(spec, events))


JOB = Job("report", ReportSpec, run,
          "One self-contained HTML report: model card, metrics, groups, robustness, explanations.",
          produces={"report": "report"},
          example={"bundle": "cnn-digits", "data": "digits"})
