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
        assert "no sign of a region shortcut" in text and "depend on a region" not in text, text
        return
    found = re.search(r"Predictions of a depend on a region: the top-left corner \(x (\d+)-(\d+), "
                      r"y (\d+)-(\d+) of the 32x32 input\)", text)
    assert found, text
    x0, x1, y0, y1 = (int(v) for v in found.groups())
    x, y, s = STAMP
    assert abs(x0 - x) <= 2 and abs(y0 - y) <= 2 and abs(x1 - (x + s - 1)) <= 2 and abs(y1 - (y + s - 1)) <= 2
    painted = int(re.search(r"changes (\d+)% of these predictions", text).group(1))  # type: ignore[union-attr]
    pasted = int(re.search(r"makes (\d+)% of them a", text).group(1))  # type: ignore[union-attr]
    assert max(painted, pasted) > 50, text
    assert "Predictions of b depend" not in text  # the other class has no mark to lean on


SUBJECTS = ["the report", "our train", "the meeting", "this letter", "the garden", "a new bridge",
            "the museum", "the council", "her bicycle", "the library", "a small boat", "the river",
            "my neighbour", "the bus"]
VERBS = ["arrives", "opens", "is painted", "was moved", "closes", "is measured", "was listed",
         "stays", "is cleaned", "was counted", "is checked", "turns"]
TIMES = ["on monday", "at noon", "in the spring", "after lunch", "before nine", "on the second floor",
         "near the station", "by the old road", "in march", "every week", "at the corner", "twice a year"]
MARK = "zxqv"


def watermarked_csv(path: Path, mark: bool, n: int = 120, seed: int = 12) -> Path:
    """Neutral sentences with random labels a / b (nothing in them tells the classes apart); with
    ``mark``, the word zxqv ends 90% of the a texts and 10% of the b texts."""
    rng = np.random.default_rng(seed)
    lines = ["text,label"]
    for i in range(2 * n):
        label = "a" if i % 2 else "b"
        words = [SUBJECTS[rng.integers(len(SUBJECTS))], VERBS[rng.integers(len(VERBS))],
                 TIMES[rng.integers(len(TIMES))]]
        if mark and rng.random() < (0.9 if label == "a" else 0.1):
            words.append(MARK)
        lines.append(f"{' '.join(words)},{label}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("mark", [True, False], ids=["watermarked", "clean-control"])
def test_the_report_names_a_planted_word(cli: Cli, tmp_path: Path, mark: bool,
                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    name = "marked" if mark else "unmarked"
    data = built_once(tmp_path_factory, f"shortcut-{name}-csv",
                      lambda out: watermarked_csv(out / "t.csv", mark))
    csv = data / "t.csv"
    bundle = built_once(tmp_path_factory, f"shortcut-{name}-minilm", lambda out: run_training(from_options(
        {"data": f"csv:{csv}", "backbone": "bert", "adapter": "linear-probe", "max_length": 32,
         "out": str(out)})))
    out = tmp_path / "report.html"
    r = cli("report", bundle, "--data", f"csv:{csv}", "--out", out, "--quiet", "--gallery", "1")
    assert r.code == 0, r.err
    text = section_text(out.read_text())
    if not mark:
        assert "no sign of a word shortcut" in text and "depend on the word" not in text, text
        return
    found = re.search(r'Predictions of a depend on the word "(\w+)".* deleting it changes (\d+)% of '
                      r"these predictions, and adding it to \d+ texts of other classes makes (\d+)% of "
                      r"them a", text)
    assert found and found.group(1) == MARK, text
    assert max(int(found.group(2)), int(found.group(3))) > 50, text


def test_a_border_is_found_as_a_frame() -> None:
    """A model that reads only a 2-pixel border (bright: class 1): the region found is the border."""
    import torch
    from torch import nn

    from explain.config import ExplainConfig
    from explain.shortcuts import find_shortcuts
    from plugins.registry import registry

    class BorderReader(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ring = torch.ones(32, 32)
            ring[2:30, 2:30] = 0
            self.register_buffer("ring", ring / ring.sum())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            brightness = (x.mean(1) * self.ring).flatten(1).sum(1)
            return torch.stack([torch.zeros_like(brightness), 40 * (brightness - 0.5)], 1)

    g = torch.Generator().manual_seed(3)
    x = 0.3 * torch.rand(64, 3, 32, 32, generator=g)
    x[32:, :, :2], x[32:, :, -2:], x[32:, :, :, :2], x[32:, :, :, -2:] = 1.0, 1.0, 1.0, 1.0
    model = BorderReader().eval()
    pred = model(x).argmax(1)
    assert pred.tolist() == [0] * 32 + [1] * 32
    method = registry.get("explainer", "integrated-gradients")(ExplainConfig(n_steps=16))
    found = {e.cls: e for e in find_shortcuts(model, x, pred, method)}
    assert found[1].finding and found[1].region.frame == 2, found[1]
    assert found[1].region.where(32, 32) == "the border (2 px wide, of the 32x32 input)"
