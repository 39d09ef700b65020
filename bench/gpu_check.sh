#!/usr/bin/env bash
# GPU check (issue 25), one command on a lent GPU machine (the device tool), about 8 minutes:
#   bash bench/gpu_check.sh        carrying .gpu, made here first by: .venv/bin/python bench/gpu_check_prepare.py
# .gpu holds the EfficientNet-Lite0 wheel and the Fashion-MNIST files. Measures the training against a
# by-hand loop, the audit against torchattacks at the same batch, predict throughput and the report end
# to end (bench/gpu_check.py); results in bench/results/gpu_check.{json,md}, copied under $OUT.
# Without a GPU: `.venv/bin/python bench/gpu_check.py --small` runs the same steps small, on the CPU.
set -euo pipefail
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 GPU_CHECK_DATA="fashion-mnist:$PWD/.gpu/fashion-mnist"
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
export PYTHONPATH="$PWD:/tmp/site" ROBUSTUNE_CACHE_DIR="${OUT:-/tmp}/robustune-cache"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
python3 bench/gpu_check.py
