"""The registry: lazy built-ins, duplicates, suggestions, third-party entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugins import Registry, RobustuneError, registry
from plugins.registry import Entry
from tests.conftest import REPO, run_subprocess


def test_builtins_are_listed_by_kind() -> None:
    assert {"resnet18", "resnet34", "resnet50", "vgg16", "vgg16_bn", "efficientnet_lite0",
            "bert"} <= set(registry.names("backbone"))
    assert registry.names("adapter") == ["discriminative", "full", "gradual", "linear-probe", "lora",
                                         "partial", "scratch"]
    assert {"cnn", "rnn", "lstm", "dbn", "gan"} <= set(registry.names("backbone"))
    assert registry.names("recipe") == ["dbn", "lbfgs", "semi-gan", "supervised"]
    assert {"linear", "mlp", "lstm", "identity"} <= set(registry.names("head"))
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


def readme_block(name: str) -> str:
    """The code block that follows ``<!-- plugin-example:NAME -->`` in the README."""
    text = (REPO / "README.md").read_text()
    after = text.split(f"<!-- plugin-example:{name} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


@pytest.mark.slow
def test_third_party_plugin_distribution(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    # exactly the example of the README's "How to write a plugin"
    (src / "my_plugin.py").write_text(readme_block("my_plugin.py"))
    (src / "pyproject.toml").write_text(readme_block("pyproject.toml"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    env = {"PYTHONPATH": f"{target}:{REPO}"}
    listed = run_subprocess("plugins", env=env)
    assert listed.code == 0, listed.err
    assert "tiny-mlp" in listed.out and "robustune-tiny-plugin" in listed.out
    out = tmp_path / "bundle"
    trained = run_subprocess("train", "--data", "tiny-blobs", "--backbone", "resnet18", "--weights",
                             "none", "--image-size", "16", "--head", "tiny-mlp", "--adapter", "head-only",
                             "--adapter-options", "lr_scale=2", "--epochs", "2", "--out", str(out), "--quiet",
                             env=env)
    assert trained.code == 0, trained.err
    meta = json.loads((out / "robustune.json").read_text())
    assert meta["adapter"] == {"name": "head-only", "config": {"lr_scale": 2.0}}
    evaluated = run_subprocess("evaluate", str(out), "--data", "tiny-blobs", "--json", env=env)
    assert evaluated.code == 0, evaluated.err
    assert '"accuracy"' in evaluated.out
    audited = run_subprocess("audit", str(out), "--data", "tiny-blobs", "--attacks", "noise,fgsm",
                             "--attack-options", "tries=3", "--n", "8", "--out", str(tmp_path / "audit"),
                             env=env)
    assert audited.code == 0, audited.err
    report = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert report["config"]["options"] == {"noise": {"tries": 3}} and "noise" in report["attacks"]
    typo = run_subprocess("audit", str(out), "--data", "tiny-blobs", "--attacks", "noise",
                          "--attack-options", "trys=3", env=env)
    assert typo.code == 2 and "did you mean 'tries'" in typo.err
    # the same plugins and options from job specs, with no terminal
    script = f"""
from robustune.jobs import audit, train
spec = train.TrainSpec.from_options({{"data": "tiny-blobs", "model": "resnet18", "weights": "none",
    "image_size": 16, "adapter": "head-only", "adapter_options": {{"lr_scale": 0.5}}, "epochs": 1,
    "out": {str(tmp_path / "job")!r}}})
result = train.run(spec)
a = audit.run(audit.AuditSpec(str(result.bundle), "tiny-blobs", ("noise",), n=8,
                              attack_options={{"noise.tries": 2}}, out={str(tmp_path / "job-audit")!r}))
print(result.to_json()["config"]["adapter_options"], a.report["config"]["options"])
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[-2] == "{'lr_scale': 0.5} {'noise': {'tries': 2}}"
