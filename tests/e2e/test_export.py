"""``robustune export``: ONNX checked in onnxruntime, HF / timm folders reloaded by those libraries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from finetune.export import sample_inputs
from plugins.bundle import load_bundle
from plugins.meta import ImagePreprocessing
from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]


def _train(out: Path, **opts: object) -> Path:
    from finetune.driver import run_training
    from finetune.run_config import from_options

    run_training(from_options({**opts, "out": str(out)}))
    return out


@pytest.fixture(scope="module")
def effnet(tmp_path_factory: pytest.TempPathFactory, image_folder: Path) -> Path:
    """EfficientNet-Lite0 (packaged ImageNet weights) probed on the striped images at 32 px."""
    return _train(tmp_path_factory.mktemp("export") / "effnet", data=f"imagefolder:{image_folder}",
                  backbone="efficientnet_lite0", image_size=32)


@pytest.fixture(scope="module")
def row_lstm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An LSTM reading digits images row by row, two epochs."""
    return _train(tmp_path_factory.mktemp("export") / "lstm", data="digits", model="lstm", epochs=2)


@pytest.fixture
def bundles(effnet: Path, stripes_bundle: Path, digits_cnn: Path, row_lstm: Path, text_bundle: Path
            ) -> dict[str, Path]:
    return {"efficientnet_lite0": effnet, "resnet18": stripes_bundle, "cnn": digits_cnn, "lstm": row_lstm,
            "minilm": text_bundle}


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18", "cnn", "lstm", "minilm"])
def test_onnx_export_gives_the_bundles_logits_in_onnxruntime(name: str, bundles: dict[str, Path],
                                                             cli: Cli, tmp_path: Path) -> None:
    import onnxruntime as ort

    bundle = load_bundle(bundles[name])
    r = cli("export", bundles[name], "--out", tmp_path / "onnx")
    assert r.code == 0, r.err
    record = json.loads((tmp_path / "onnx" / "export.json").read_text())
    assert record["format"] == "onnx" and record["labels"] == bundle.labels
    assert record["check"]["inputs"] == 32 and record["check"]["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    # other inputs than the export's own check, and a batch of one: the batch (and length) are dynamic
    inputs = sample_inputs(bundle, 32, seed=7)
    for rows in (slice(0, 32), slice(3, 4)):
        feed = {k: v[rows] for k, v in inputs.items()}
        if "attention_mask" in feed:  # one text alone: drop its padding, so the length changes too
            keep = int(feed["attention_mask"].sum(1).max())
            feed = {k: v[:, :keep] for k, v in feed.items()}
        got = session.run(["logits"], {k: v.numpy() for k, v in feed.items()})[0]
        with torch.inference_mode():
            want = bundle.model(*feed.values()).numpy()
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-4
    if name == "minilm":
        assert (tmp_path / "onnx" / "tokenizer" / "tokenizer.json").is_file()


def test_hf_export_of_a_text_bundle_loads_in_transformers(text_bundle: Path, cli: Cli,
                                                          tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    r = cli("export", text_bundle, "--format", "hf", "--out", tmp_path / "hf")
    assert r.code == 0 and "largest |logit difference|" in r.out, r.err
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "hf", trust_remote_code=True,
                                                               local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf", trust_remote_code=True, local_files_only=True)
    bundle = load_bundle(text_bundle)
    texts = ["a moving, beautifully acted film", "dull and far too long", "fine"]
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        got = model(**enc).logits
        want = bundle.model(enc["input_ids"], enc["attention_mask"])
    assert torch.allclose(got, want, atol=1e-5)
    assert [model.config.id2label[i] for i in range(len(bundle.labels))] == bundle.labels


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18"])
def test_hf_export_of_a_timm_bundle_loads_in_timm(name: str, bundles: dict[str, Path], cli: Cli,
                                                  tmp_path: Path) -> None:
    import timm

    out = tmp_path / "hf"
    assert cli("export", bundles[name], "--format", "hf", "--out", out).code == 0
    bundle = load_bundle(bundles[name])
    config = json.loads((out / "config.json").read_text())
    pre = bundle.meta.preprocessing
    assert isinstance(pre, ImagePreprocessing)
    cfg = config["pretrained_cfg"]
    assert config["num_classes"] == len(bundle.labels) and config["label_names"] == bundle.labels
    assert cfg["mean"] == list(pre.mean) and cfg["std"] == list(pre.std)
    assert cfg["input_size"] == list(pre.input_size)
    model = timm.create_model(bundle.meta.arch["timm_name"], pretrained=True,
                              num_classes=len(bundle.labels),
                              pretrained_cfg_overlay={"file": str(out / "model.safetensors"),
                                                      "num_classes": len(bundle.labels)}).eval()
    pixels = sample_inputs(bundle, 8, seed=3)["pixels"]
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (pre.mean, pre.std))
    with torch.inference_mode():
        assert torch.allclose(model((pixels - mean) / std), bundle.model(pixels), atol=1e-4)
    # and robustune reads it back: import --timm with the exported weights gives the same model
    labels = ",".join(bundle.labels)
    r = cli("import", "--timm", bundle.meta.arch["timm_name"], "--weights", out / "model.safetensors",
            "--labels", labels, "--image-size", pre.size,
            "--mean", ",".join(map(str, pre.mean)), "--std", ",".join(map(str, pre.std)),
            "--out", tmp_path / "back")
    assert r.code == 0, r.err
    with torch.inference_mode():
        assert torch.allclose(load_bundle(tmp_path / "back").model(pixels), bundle.model(pixels), atol=1e-4)


def test_what_cannot_be_exported_gets_one_line(digits_cnn: Path, text_csv: Path, cli: Cli,
                                               tmp_path: Path) -> None:
    # a text LSTM packs its padded sequences, which torch.export cannot trace into ONNX
    lstm = _train(tmp_path / "text-lstm", data=f"csv:{text_csv}", model="lstm", epochs=1)
    assert_error(cli("export", lstm, "--out", tmp_path / "x"), "cannot be exported to ONNX", "--format")
    assert not (tmp_path / "x").exists()
    assert_error(cli("export", digits_cnn, "--format", "hf", "--out", tmp_path / "y"),
                 "neither transformers nor timm", "--format onnx")
    assert_error(cli("export", digits_cnn, "--format", "tflite", "--out", tmp_path / "z"),
                 "unknown exporter 'tflite'", "onnx")
    assert_error(cli("export", tmp_path / "nope", "--out", tmp_path / "w"), "does not exist")
    assert not any((tmp_path / n).exists() for n in "xyzw")
