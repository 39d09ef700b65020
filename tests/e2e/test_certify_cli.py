"""Certified robustness as a user types it: a CNN trained with --noise-train, audited with --certify (the
band, its table and the report's section, certified never above empirical), predict --certify, and the
refusals (text models, a linear probe with noise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CliResult


@pytest.fixture(scope="module")
def noisy_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    out = tmp_path_factory.mktemp("certify") / "noisy"
    run_training(from_options({"data": "digits", "backbone": "cnn", "epochs": 4, "noise_train": 0.25,
                               "per_class": 60, "test_per_class": 12, "out": str(out)}))
    return out


def test_audit_certify_draws_the_band_and_the_report_explains_it(cli: CliResult, noisy_cnn: Path,
                                                                 tmp_path: Path) -> None:
    meta = json.loads((noisy_cnn / "robustune.json").read_text())
    assert meta["training"]["noise_train"] == 0.25
    audit = tmp_path / "audit"
    res = cli("audit", str(noisy_cnn), "--data", "digits", "--attacks", "fgsm", "--eps", "8/255", "--n", "24",
              "--certify", "--certify-n", "300", "--out", str(audit))
    assert res.code == 0, res.err
    assert "randomized smoothing (sigma 0.25, n = 300" in res.out and "--noise-train 0.25" in res.out
    cert = json.loads((audit / "audit.json").read_text())["certified"]
    assert cert["sigma"] == 0.25 and cert["inputs"] == 24 and cert["radii"][:3] == [0.0, 0.25, 0.5]
    low, high = cert["certified_accuracy"], cert["empirical_accuracy"]
    assert low[0] > 0.7 and low == sorted(low, reverse=True)  # a noise-trained CNN certifies most at 0
    assert all(lo <= hi + 2 / 24 for lo, hi in zip(low, high, strict=True))  # lower bound under upper
    assert not [f for f in cert["flags"] if f["code"] == "certified_above_empirical"]
    d = (0.25 / cert["linf_radii"][1]) ** 2  # r / sqrt(d): d the pixel values of the input, 3 x 8 x 8
    assert d == pytest.approx(192)
    assert set(cert["per_class"]) <= set(meta["labels"])
    each = cert["per_input"]  # each input's label, smoothed class and radius: the accuracies come from them
    right = [p == y and r >= 0.25 for y, p, r in zip(each["labels"], each["predictions"], each["radii"],
                                                      strict=True)]
    assert len(right) == 24 and sum(right) / 24 == pytest.approx(low[1])
    assert cert["batch"]["size"] == 1024 and 0 < cert["certify_seconds"] <= cert["seconds"]  # a tiny CNN
    assert (audit / "certified_band.png").stat().st_size > 10_000
    page = tmp_path / "report.html"
    res = cli("report", str(noisy_cnn), "--data", "digits", "--audit", str(audit), "--out", str(page),
              "--shortcut-n", "0", "--gallery", "1", "--quality-n", "2", "--quiet")
    assert res.code == 0, res.err
    html = page.read_text()
    assert "<h2>Certified robustness</h2>" in html and "true robust accuracy lies between" in html


def test_predict_certify_gives_a_label_and_a_radius(cli: CliResult, noisy_cnn: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    png = tmp_path / "zero.png"
    Image.fromarray(np.rint(digits.images[0] * 255 / 16).astype(np.uint8)).save(png)
    res = cli("predict", str(noisy_cnn), str(png), "--certify", "--certify-n", "500", "--json")
    assert res.code == 0, res.err
    cert = json.loads(res.out)[0]["certified"]
    assert cert["sigma"] == 0.25 and not cert["abstained"] and cert["label"] == "0"
    assert 0 < cert["radius"] < 0.6


def test_texts_are_certified_on_their_embeddings_and_noise_train_refuses_a_probe(
        cli: CliResult, text_bundle: Path, text_csv: Path, tmp_path: Path) -> None:
    audit = tmp_path / "a"
    res = cli("audit", str(text_bundle), "--data", f"csv:{text_csv}", "--attacks", "embedding-pgd", "--eps",
              "0.05", "--n", "2", "--certify", "--sigma", "0.5", "--certify-n0", "10", "--certify-n", "30",
              "--out", str(audit))
    assert res.code == 0, res.err
    assert "L2 radius (token embeddings)" in res.out and "L-inf" not in res.out
    cert = json.loads((audit / "audit.json").read_text())["certified"]
    assert cert["space"].startswith("token embeddings") and cert["linf_radii"] is None
    assert cert["radii"] == [0.0, 0.25, 0.5] and cert["inputs"] == 2
    res = cli("train", "--data", "digits", "--model", "efficientnet_lite0", "--noise-train", "0.25",
              "--out", str(tmp_path / "b"))
    assert res.code == 2 and "caches its features once" in res.err and not (tmp_path / "b").exists()
