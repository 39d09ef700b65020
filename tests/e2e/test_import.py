"""``robustune import``: a model trained outside robustune becomes a bundle that audits work on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from plugins.bundle import load_bundle
from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]


def _train_outside(path: Path) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """Plain PyTorch + timm, no robustune: a ResNet-18 on digits at 16 px, own normalization."""
    d = load_digits()
    x = torch.from_numpy(d.images).float().div(16).unsqueeze(1).expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.from_numpy(d.target).long()
    torch.manual_seed(0)
    model = timm.create_model("resnet18", num_classes=10)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    mean = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    for _ in range(2):
        for i in range(0, 1200, 64):
            loss = F.cross_entropy(model((x[i : i + 64] - mean) / 0.5), y[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    torch.save(model.state_dict(), path)
    return model, x[1200:1300], y[1200:1300]


def test_import_timm_model_then_audit(cli: Cli, tmp_path: Path) -> None:
    model, x, y = _train_outside(tmp_path / "resnet18-digits.pth")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(str(i) for i in range(10)) + "\n")
    out = tmp_path / "imported"
    r = cli("import", "--timm", "resnet18", "--weights", tmp_path / "resnet18-digits.pth", "--labels", labels,
            "--image-size", "16", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5", "--out", out)
    assert r.code == 0, r.err
    bundle = load_bundle(out)
    with torch.no_grad():
        expected = model((x - 0.5) / 0.5)
        assert torch.allclose(bundle.model(x), expected, atol=1e-5)
    assert bundle.labels == [str(i) for i in range(10)]
    audit = cli("audit", out, "--data", "digits", "--attacks", "fgsm", "--eps", "2/255", "--n", "30",
                "--out", tmp_path / "audit")
    assert audit.code == 0, audit.err
    report = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert report["clean_accuracy"] > 0.5


def test_import_bad_input(cli: Cli, tmp_path: Path) -> None:
    torch.save(timm.create_model("resnet18", num_classes=10).state_dict(), tmp_path / "w.pth")
    base = ["import", "--weights", tmp_path / "w.pth", "--out", tmp_path / "o"]
    assert_error(cli(*base, "--timm", "resnet18", "--labels", "a,b,c"), "do not fit", "fc.weight")
    assert_error(cli(*base, "--timm", "resnet999", "--labels", "a,b"), "timm has no architecture")
    assert_error(cli(*base, "--timm", "resnet18", "--labels", "only"), "at least two class names")
    assert_error(cli(*base, "--labels", "a,b"), "exactly one of --timm", "--hf")
    assert_error(cli("import", "--timm", "resnet18", "--out", tmp_path / "o"), "--timm needs --weights")


def _train_hf_outside(folder: Path) -> tuple[torch.nn.Module, Any, list[str]]:
    """Plain transformers, no robustune: a 2-layer BERT classifier on generated sentiment sentences."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from plugins.assets import locate
    from tests.conftest import NEGATIVE, POSITIVE

    tokenizer = AutoTokenizer.from_pretrained(str(locate("minilm")))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, num_labels=2,
                        id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    texts = POSITIVE + NEGATIVE
    y = torch.tensor([1] * len(POSITIVE) + [0] * len(NEGATIVE))
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    for _ in range(40):
        loss = model(**enc, labels=y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, texts


def test_import_hf_sequence_classifier_then_text_audit(cli: Cli, tmp_path: Path, text_csv: Path) -> None:
    folder = tmp_path / "hf-model"
    model, tokenizer, texts = _train_hf_outside(folder)
    out = tmp_path / "imported"
    r = cli("import", "--hf", folder, "--out", out)
    assert r.code == 0, r.err
    bundle = load_bundle(out)
    assert bundle.labels == ["neg", "pos"] and bundle.modality == "text"
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(**enc).logits
        assert torch.allclose(bundle.model(enc["input_ids"], enc["attention_mask"]), expected, atol=1e-5)
    assert float((expected.argmax(1) == torch.tensor([1] * 6 + [0] * 6)).float().mean()) >= 0.9
    audit = cli("audit", out, "--data", f"csv:{text_csv}", "--n", "8", "--steps", "3", "--eps", "0.1,0.3",
                "--out", tmp_path / "audit")
    assert audit.code == 0, audit.err
    report = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert set(report["attacks"]) == {"embedding-pgd", "word-level"} and report["clean_accuracy"] >= 0.75
    again = cli("import", "--hf", folder, "--labels", "a,b,c", "--out", tmp_path / "o3")
    assert_error(again, "names 3 classes but the model", "has 2 outputs")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_error(cli("import", "--hf", empty, "--out", tmp_path / "o4"), "has no config.json")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    assert_error(cli("import", "--hf", folder, "--out", tmp_path / "o5"), "has no tokenizer")
