"""``robustune import``: a model trained outside robustune becomes a bundle that audits work on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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
