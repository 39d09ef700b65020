"""Bundles reload to identical logits and are written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from plugins import RobustuneError
from plugins.backbones import BackboneConfig
from plugins.bundle import load_bundle, read_meta, save_bundle, validate_meta
from plugins.meta import BundleMeta, ImagePreprocessing
from plugins.model import ModelSpec, build_classifier


def _meta(model: Any, labels: list[str]) -> dict[str, Any]:
    return {"model": None, "arch": model.backbone.arch(), "labels": labels,
            "preprocessing": model.backbone.preprocessing()}


def _image_model() -> tuple[Any, ModelSpec]:
    spec = ModelSpec("resnet18", 3, BackboneConfig(weights="none", image_size=32))
    torch.manual_seed(0)
    return build_classifier(spec), spec


def test_image_bundle_round_trip(tmp_path: Path) -> None:
    model, spec = _image_model()
    model.eval()
    meta = {**_meta(model, ["a", "b", "c"]), "model": spec.to_json()}
    save_bundle(tmp_path / "b", model, meta)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [".robustune-output", "model.safetensors",
                                                               "robustune.json"]
    loaded = load_bundle(tmp_path / "b")
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model(x))
    assert loaded.labels == ["a", "b", "c"] and loaded.modality == "image"
    info = json.loads((tmp_path / "b" / "robustune.json").read_text())
    assert info["format_version"] == 1 and "torch" in info["versions"]
    assert isinstance(loaded.meta, BundleMeta) and read_meta(tmp_path / "b") == loaded.meta
    assert info.items() <= loaded.meta.to_json().items()  # the file, plus the defaults it left out
    assert validate_meta(loaded.meta.to_json(), "again") == loaded.meta
    assert isinstance(loaded.meta.preprocessing, ImagePreprocessing) and loaded.meta.image_size == 32
    assert loaded.meta.preprocessing.to_json() == info["preprocessing"] and loaded.meta.data_source is None
    with pytest.raises(RobustuneError, match="image model"):
        _ = loaded.meta.max_length


def test_text_bundle_round_trip(tmp_path: Path) -> None:
    spec = ModelSpec("bert", 2, BackboneConfig(max_length=32))
    model = build_classifier(spec).eval()
    meta = {**_meta(model, ["neg", "pos"]), "model": spec.to_json()}
    save_bundle(tmp_path / "t", model, meta, tokenizer=model.backbone.tokenizer)
    loaded = load_bundle(tmp_path / "t")
    enc = loaded.tokenizer(["a fine film", "dull"], padding=True, return_tensors="pt")
    with torch.no_grad():
        a = model(enc["input_ids"], enc["attention_mask"])
        b = loaded.model(enc["input_ids"], enc["attention_mask"])
        emb = loaded.model.get_input_embeddings()(enc["input_ids"])
        c = loaded.model.forward_embeddings(emb, enc["attention_mask"])
    assert torch.equal(a, b)
    assert torch.allclose(b, c, atol=1e-5)
    info = json.loads((tmp_path / "t" / "robustune.json").read_text())
    assert loaded.meta.max_length == 32 and info.items() <= loaded.meta.to_json().items()
    assert loaded.meta.preprocessing.to_json() == info["preprocessing"]
    with pytest.raises(RobustuneError, match="text model"):
        _ = loaded.meta.image_size
    assert a.shape == (2, 2) and isinstance(a, torch.Tensor)


def test_existing_target_refused_and_untouched(tmp_path: Path) -> None:
    model, spec = _image_model()
    target = tmp_path / "b"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(RobustuneError, match="already exists.*overwrite"):
        save_bundle(target, model, {**_meta(model, ["a", "b", "c"]), "model": spec.to_json()})
    assert (target / "keep.txt").read_text() == "mine"


class BrokenTokenizer:
    def save_pretrained(self, path: str) -> None:
        raise OSError("disk full")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    model, spec = _image_model()
    with pytest.raises(OSError, match="disk full"):
        save_bundle(tmp_path / "b", model, {**_meta(model, ["a", "b", "c"]), "model": spec.to_json()},
                    tokenizer=BrokenTokenizer())
    assert list(tmp_path.iterdir()) == []


def test_corrupt_bundle_is_named(tmp_path: Path) -> None:
    model, spec = _image_model()
    save_bundle(tmp_path / "b", model, {**_meta(model, ["a", "b", "c"]), "model": spec.to_json()})
    (tmp_path / "b" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(RobustuneError, match="cannot be read.*damaged"):
        load_bundle(tmp_path / "b")
    with pytest.raises(RobustuneError, match="not a robustune bundle"):
        load_bundle(tmp_path)
