"""The registry: lazy built-ins, duplicates, suggestions, third-party entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plugins import Registry, RobustuneError, registry
from plugins.registry import Entry
from tests.conftest import REPO, run_subprocess


def test_builtins_are_listed_by_kind() -> None:
    assert {"resnet18", "resnet34", "resnet50", "vgg16", "vgg16_bn", "efficientnet_lite0",
            "bert"} <= set(registry.names("backbone"))
    assert registry.names("adapter") == ["full", "linear-probe", "partial"]
    assert {"digits", "fashion-mnist", "rotten-tomatoes", "imagefolder", "csv"} <= set(
        registry.names("dataset"))
    assert all(e.description for e in registry)


def test_listing_imports_no_heavy_library() -> None:
    code = ("import sys; from plugins import registry; list(registry); "
            "print(sorted(m for m in ('torch', 'timm', 'transformers', 'captum') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert out.strip() == "[]"


def test_duplicate_names_raise() -> None:
    reg = Registry(group="robustune.test-none")
    reg.add(Entry("head", "x", object(), "one", "a"))
    with pytest.raises(RobustuneError, match="registered twice"):
        reg.add(Entry("head", "x", object(), "two", "b"))


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(RobustuneError, match="did you mean 'resnet18'"):
        registry.entry("backbone", "resnet19")


def test_lazy_target_loads_on_first_use() -> None:
    reg = Registry(group="robustune.test-none")
    reg.add(Entry("head", "lin", "plugins.heads:linear", "d", "t"))
    assert reg.get("head", "lin")(4, 2)[1].out_features == 2


PLUGIN_PY = '''
"""A tiny third-party robustune plugin: a dataset and a head."""
import torch
from torch import nn

from finetune.data.types import ImageData, SourceData


def blobs(arg, options):
    g = torch.Generator().manual_seed(0)
    n = 40
    labels = torch.arange(n) % 2
    images = (torch.rand(n, 1, 16, 16, generator=g) * 80).to(torch.uint8)
    images[labels == 1, :, 4:12, 4:12] = 250
    return SourceData("tiny-blobs", ImageData(images, labels, ["empty", "blob"]))


def mlp(in_features, num_classes, dropout=0.0):
    return nn.Sequential(nn.Linear(in_features, 16), nn.ReLU(), nn.Linear(16, num_classes))


def register(reg):
    reg.register("dataset", "tiny-blobs", "tiny_plugin:blobs", "bright square or not")
    reg.register("head", "tiny-mlp", "tiny_plugin:mlp", "a two-layer head from a plugin")
'''


@pytest.mark.slow
def test_third_party_plugin_distribution(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "tiny_plugin.py").write_text(PLUGIN_PY)
    (src / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "robustune-tiny-plugin"
        version = "0.1"
        [project.entry-points."robustune.plugins"]
        tiny = "tiny_plugin:register"
        [tool.setuptools]
        py-modules = ["tiny_plugin"]
    '''))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    env = {"PYTHONPATH": f"{target}:{REPO}"}
    listed = run_subprocess("plugins", env=env)
    assert listed.code == 0, listed.err
    assert "tiny-mlp" in listed.out and "robustune-tiny-plugin" in listed.out
    out = tmp_path / "bundle"
    trained = run_subprocess("train", "--data", "tiny-blobs", "--backbone", "resnet18", "--weights",
                             "none", "--image-size", "16", "--head", "tiny-mlp", "--adapter", "full",
                             "--epochs", "2", "--out", str(out), "--quiet", env=env)
    assert trained.code == 0, trained.err
    evaluated = run_subprocess("evaluate", str(out), "--data", "tiny-blobs", "--json", env=env)
    assert evaluated.code == 0, evaluated.err
    assert '"accuracy"' in evaluated.out
