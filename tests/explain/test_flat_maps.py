"""Attribution maps with nothing to draw (zero everywhere, none of the sign shown, not a number) are drawn
blank with the reason, never a crash (Captum's normalisation asserts on a scale of 0): in the overlay, in
explain's pictures and in the report's galleries; a constant map is drawn as it is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from explain.methods.saliency import SaliencyExplainer
from explain.render import drawable, highlight_html, overlay
from plugins import registry
from plugins.registry import Entry


@pytest.mark.parametrize(("fill", "sign", "reason"), [
    (0.0, "absolute_value", "the gradient is zero here"),
    (float("nan"), "absolute_value", "it is not a number here"),
    (-1.0, "positive", "no positive attribution here"),
    (0.25, "absolute_value", None),  # constant: drawn
    (float("inf"), "all", "it is not a number here"),
])
def test_the_overlay_draws_every_flat_map(fill: float, sign: str, reason: str | None) -> None:
    image, attr = torch.rand(3, 16, 16), torch.full((3, 16, 16), fill)
    _, why = drawable(attr.permute(1, 2, 0).numpy(), sign)
    assert (why is None) == (reason is None) and (reason is None or reason in str(why))
    drawn = overlay(image, attr, "a title", "saliency", sign=sign)
    assert drawn.png.startswith(b"\x89PNG") and drawn.heat.shape == (16, 16)
    assert np.isfinite(drawn.heat).all()


def test_text_scores_that_are_not_numbers_shade_nothing() -> None:
    page = highlight_html(["a", "warm", "film"], [float("nan"), 0.5, float("inf")])
    assert "nan" not in page and "inf" not in page and "rgba(220,40,40,1.00)" in page


class Flat(SaliencyExplainer):
    """Saliency whose maps are all one value: what a saturated model gives (0), or a broken one (NaN)."""

    name = "flat-test"
    fill = 0.0

    def finish(self, attributions: Tensor, x: Tensor) -> Tensor:
        return torch.full_like(attributions, self.fill)


@pytest.fixture(params=[0.0, float("nan")], ids=["zero", "nan"])
def flat(request: pytest.FixtureRequest) -> Iterator[float]:
    Flat.fill = request.param
    registry.add(Entry("explainer", Flat.name, Flat, "flat maps (a test)", "tests"))
    try:
        yield request.param
    finally:
        del registry._entries["explainer"][Flat.name]  # the registry stays as the other tests know it


def test_explain_and_the_report_draw_flat_maps(flat: float, stripes_bundle: Path, image_folder: Path,
                                                tmp_path: Path) -> None:
    from robustune.jobs.explain import ExplainSpec
    from robustune.jobs.explain import run as explain
    from robustune.jobs.report import ReportSpec
    from robustune.jobs.report import run as report

    files = tuple(str(p) for p in sorted(image_folder.rglob("*.png"))[:2])
    out = explain(ExplainSpec(bundle=str(stripes_bundle), files=files, method=Flat.name,
                              out=str(tmp_path / "explained")))
    pictures = sorted((tmp_path / "explained").glob("*.png"))
    assert len(pictures) == 2 and all(p.read_bytes().startswith(b"\x89PNG") for p in pictures), out
    assert json.loads((tmp_path / "explained" / "explanations.json").read_text())
    page = report(ReportSpec(bundle=str(stripes_bundle), data=f"imagefolder:{image_folder}",
                             out=str(tmp_path / "report.html"), gallery=2, gallery_method=Flat.name,
                             quality_n=4, n_steps=4))
    html = Path(page.report).read_text()
    assert "<html" in html.lower() and Flat.name in html


def test_confusion_matrix_counts_have_contrast() -> None:
    """Every count of a confusion matrix is drawn in the colour (black or white) with the higher WCAG
    contrast on its cell, at least 4.5:1, whatever the counts (the Coat -> Pullover cell was unreadable)."""
    from explain.render import cell_colours, confusion_png, text_colour

    matrix = [[300, 147, 0], [60, 240, 3], [1, 99, 150]]
    for row in cell_colours(matrix):
        for background in row:
            assert text_colour(background)[1] >= 4.5, background
    shades = [[round(v * 300 / 255) for v in range(0, 256, 16)]]  # every shade the colour map draws
    assert min(text_colour(c)[1] for c in cell_colours(shades)[0]) >= 4.5
    assert confusion_png(matrix, ["a", "b", "c"]).startswith(b"\x89PNG")
