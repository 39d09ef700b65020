"""``robustune explain`` as a user runs it: overlays for images, highlighted words for texts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file

from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]


@pytest.mark.parametrize("method", ["integrated-gradients", "gradcam"])
def test_explain_images_writes_overlays(cli: Cli, stripes_bundle: Path, image_folder: Path, tmp_path: Path,
                                        method: str) -> None:
    files = [image_folder / "horizontal" / "000.png", image_folder / "vertical" / "001.jpg"]
    out = tmp_path / "x"
    r = cli("explain", stripes_bundle, *files, "--method", method, "--n-steps", "8", "--out", out)
    assert r.code == 0, r.err
    assert "000.png" in r.out and str(out) in r.out.replace("\n", "")
    saved = json.loads((out / "explanations.json").read_text())
    items = saved["items"]
    numerics = saved["numerics"]
    assert numerics["purpose"] == "gradient" and numerics["agreement_vs_fp32"][numerics["choice"]] >= 0.995
    assert [Path(i["input"]).name for i in items] == ["000.png", "001.jpg"]
    for item in items:
        with Image.open(out / item["overlay"]) as img:
            assert img.width > 300 and img.height > 150
    saved = load_file(str(out / "attributions.safetensors"))
    assert saved["attributions"].shape == saved["inputs"].shape == (2, 3, 24, 24)


def test_explain_texts_writes_highlighted_html(cli: Cli, text_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    r = cli("explain", text_bundle, "--text", "a wonderful, moving film", "--text", "awful and tedious",
            "--method", "attention-rollout", "--out", out)
    assert r.code == 0, r.err
    assert "top words" in r.out
    page = (out / "explanations.html").read_text()
    assert page.count("<span") == 5 + 3 and "wonderful" in page  # a / wonderful / , / moving / film + 3
    items = json.loads((out / "explanations.json").read_text())["items"]
    assert items[1]["words"] == ["awful", "and", "tedious"] and len(items[1]["scores"]) == 3
    ig = cli("explain", text_bundle, "--text", "brilliant and funny", "--target", "neg", "--n-steps", "8",
             "--out", tmp_path / "t2")
    assert ig.code == 0, ig.err
    item = json.loads((tmp_path / "t2" / "explanations.json").read_text())["items"][0]
    assert item["explained_class"] == "neg"


def test_explain_bad_inputs(cli: Cli, stripes_bundle: Path, text_bundle: Path, image_folder: Path,
                            tmp_path: Path) -> None:
    png = image_folder / "horizontal" / "000.png"
    assert_error(cli("explain", stripes_bundle, png, "--method", "gradcm", "--out", tmp_path / "a"),
                 "did you mean 'gradcam'")
    assert_error(cli("explain", stripes_bundle, png, "--method", "gradcam", "--layer",
                     "backbone.model.layer9", "--out", tmp_path / "b"), "no layer 'backbone.model.layer9'")
    assert_error(cli("explain", text_bundle, "--text", "fine", "--method", "gradcam", "--out",
                     tmp_path / "c"), "gradcam explains image models but this is a text model", "--method")
    assert_error(cli("explain", stripes_bundle, png, "--target", "diagonal", "--out", tmp_path / "d"),
                 "--target 'diagonal' is not a class", "horizontal, vertical")
    assert_error(cli("explain", stripes_bundle, "--out", tmp_path / "e"),
                 "give image files or texts (--text)")
    assert not any((tmp_path / n).exists() for n in "abcde")
