"""Property-based: any damage to a real robustune.json is one clean line and exit 2, never a traceback.

Hypothesis mutates one field of a trained bundle's metadata at a time (drop, retype, out of range,
NaN, huge) and runs ``robustune predict`` on it. The fields are the ones the schema checks (every
field a bundle needs to rebuild its model and preprocess inputs); a mutation that leaves a valid
bundle is not drawn (for example a float where a float is expected).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]

# path -> (JSON type, required, values outside its range)
FIELDS: dict[str, tuple[str, bool, list[Any]]] = {
    "format_version": ("int", True, [0, -3, 2, 10**12]),
    "modality": ("enum", True, ["audio", "", "IMAGE"]),
    "model": ("dict", True, []),
    "model.backbone": ("enum", True, ["", "no-such-model", "hf-hub:org/x"]),
    "model.num_classes": ("int", True, [0, -3, 1, 11, 10**12]),
    "model.backbone_config": ("dict", False, []),
    "model.backbone_config.image_size": ("int", False, [0, -3, 10**12]),
    "model.backbone_config.max_length": ("int", False, [0, -3, 10**12]),
    "model.backbone_config.pooling": ("enum", False, ["max", ""]),
    "model.head": ("enum", False, ["", "liner"]),
    "model.head_config": ("dict", False, []),
    "model.head_config.dropout": ("float", False, [-3.0, 1.5, 1e12]),
    "arch": ("dict", True, []),
    "arch.modality": ("enum", True, ["text", "audio"]),
    "arch.options": ("dict", True, []),
    "arch.options.width": ("int", False, [0, -3, 10**9]),
    "arch.options.depth": ("int", False, [0, -3, 10**6]),
    "arch.image_size": ("int", True, [0, -3, 9, 10**12]),
    "labels": ("list", True, []),
    "labels[0]": ("str", True, [""]),
    "preprocessing": ("dict", True, []),
    "preprocessing.modality": ("enum", True, ["text", "audio"]),
    "preprocessing.input_size": ("list", True, []),
    "preprocessing.input_size[1]": ("int", True, [0, -3, 10**12]),
    "preprocessing.mean": ("list", True, []),
    "preprocessing.mean[0]": ("float", True, [-3.0, 1e12]),
    "preprocessing.std": ("list", True, []),
    "preprocessing.std[0]": ("float", True, [0.0, -3.0, 1e12]),
    "versions": ("dict", False, []),
    "metrics": ("dict", False, []),
    "training": ("dict", False, []),
}
OTHER_TYPES: dict[str, Any] = {"int": 7, "float": 0.5, "str": "x", "list": [], "dict": {}, "bool": True}
ACCEPTS = {"int": {"int"}, "float": {"float", "int"}, "str": {"str"}, "enum": {"str"}, "list": {"list"},
           "dict": {"dict"}}


def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        out.append(name)
        if index:
            out.append(int(index.rstrip("]")))
    return out


def _mutate(meta: dict[str, Any], path: str, how: str, value: Any) -> None:
    *parents, last = _steps(path)
    node: Any = meta
    for step in parents:
        node = node[step]
    if how == "drop":
        del node[last]
    else:
        node[last] = value


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str, Any]:
    path = draw(st.sampled_from(sorted(FIELDS)))
    kind, required, bad = FIELDS[path]
    hows = ["retype", "nan", "huge"] + (["drop"] if required and "[" not in path else [])
    hows += ["range"] if bad else []
    how = draw(st.sampled_from(hows))
    if how == "retype":
        others = [t for t in OTHER_TYPES if t not in ACCEPTS[kind]]
        return path, how, OTHER_TYPES[draw(st.sampled_from(others))]
    if how == "range":
        return path, how, draw(st.sampled_from(bad))
    if how == "huge":
        return path, how, {"int": 10**30, "float": 1e308, "str": 7, "enum": "z" * 5_000}.get(kind, 10**30)
    return path, how, None


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_digits

    path = tmp_path_factory.mktemp("digit") / "zero.png"
    Image.fromarray(np.rint(load_digits().images[0] * 255 / 16).astype(np.uint8)).save(path)
    return path


def test_the_unmutated_bundle_predicts(cli: Cli, digits_cnn: Path, digit_png: Path) -> None:
    assert cli("predict", digits_cnn, digit_png).code == 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=mutations())
def test_any_damage_is_one_line(cli: Cli, tmp_path: Path, digits_cnn: Path, digit_png: Path,
                                change: tuple[str, str, Any]) -> None:
    path, how, value = change
    bundle = tmp_path / "b"
    if not bundle.exists():
        shutil.copytree(digits_cnn, bundle)
    meta = json.loads((digits_cnn / "robustune.json").read_text())
    if how == "nan":
        _mutate(meta, path, "set", "__NAN__")
        text = json.dumps(meta).replace('"__NAN__"', "NaN")
    else:
        _mutate(meta, path, how, value)
        text = json.dumps(meta)
    (bundle / "robustune.json").write_text(text)
    assert_error(cli("predict", bundle, digit_png), str(bundle))
