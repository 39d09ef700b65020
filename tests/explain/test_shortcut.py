"""A planted "Clever Hans" shortcut: two classes of noise images told apart by a faint brightness
difference in their lower half (too faint to learn in 12 epochs), with a 4x4 white stamp in the
top-left corner of 90% of class "a" and 10% of class "b" (generated here with its own seed). The cnn
trained with robustune's defaults (12 epochs) leans on the stamp; the report's "What the model relies
on" section must name the region (within 2 pixels) with a flip rate above 50%. The same data without
the stamp is the control: no finding."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import CliResult, built_once

Cli = Callable[..., CliResult]
STAMP = (2, 2, 4)  # x, y, side


def stamped_folder(root: Path, stamp: bool, n: int = 240, seed: int = 11) -> Path:
    """An image folder of 32x32 grey noise; class b is 0.008 brighter in its lower half (a weak, real
    signal), and with ``stamp`` the corner mark comes with class a."""
    rng = np.random.default_rng(seed)
    x, y, s = STAMP
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            img = 0.5 + 0.15 * rng.standard_normal((32, 32))
            if cls == "b":
                img[16:] += 0.008
            if stamp and rng.random() < (0.9 if cls == "a" else 0.1):
                img[y : y + s, x : x + s] = 1.0
            Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / cls / f"{i}.png")
    return root


def trained(tmp_path_factory: pytest.TempPathFactory, stamp: bool) -> tuple[Path, Path]:
    """(the image folder, a cnn bundle trained on it with the defaults but 12 epochs), once per session."""
    from finetune.driver import run_training
    from finetune.run_config import from_options

    name = "stamped" if stamp else "clean"
    data = built_once(tmp_path_factory, f"shortcut-{name}-data", lambda out: stamped_folder(out, stamp))
    bundle = built_once(tmp_path_factory, f"shortcut-{name}-cnn", lambda out: run_training(from_options(
        {"data": f"imagefolder:{data}", "backbone": "cnn", "epochs": 12, "out": str(out)})))
    return data, bundle


def section_text(page: str) -> str:
    """The words of the report's "What the model relies on" section."""
    start = page.index("<h2>What the model relies on</h2>")
    end = page.index("<h2>", start + 10)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page[start:end])).split())


@pytest.mark.parametrize("stamp", [True, False], ids=["stamped", "clean-control"])
def test_the_report_names_a_planted_corner_stamp(cli: Cli, tmp_path: Path, stamp: bool,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    data, bundle = trained(tmp_path_factory, stamp)
    out = tmp_path / "report.html"
    r = cli("report", bundle, "--data", f"imagefolder:{data}", "--out", out, "--quiet", "--gallery", "1")
    assert r.code == 0, r.err
    page = out.read_text()
    assert page.index("<h2>What the model relies on</h2>") < page.index("<h2>Holdout metrics</h2>")
    text = section_text(page)
    if not stamp:
        assert "no sign of a region shortcut" in text and "depend on a small region" not in text, text
        return
    found = re.search(r"Predictions of a depend on a small region: the top-left corner \(x (\d+)-(\d+), "
                      r"y (\d+)-(\d+) of the 32x32 input\)", text)
    assert found, text
    x0, x1, y0, y1 = (int(v) for v in found.groups())
    x, y, s = STAMP
    assert abs(x0 - x) <= 2 and abs(y0 - y) <= 2 and abs(x1 - (x + s - 1)) <= 2 and abs(y1 - (y + s - 1)) <= 2
    painted = int(re.search(r"changes (\d+)% of these predictions", text).group(1))  # type: ignore[union-attr]
    pasted = int(re.search(r"makes (\d+)% of them a", text).group(1))  # type: ignore[union-attr]
    assert max(painted, pasted) > 50, text
    assert "Predictions of b depend" not in text  # the other class has no mark to lean on
