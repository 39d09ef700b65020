# Set-up is part of every target: `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint pytest bench clean lock

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/setup.sh constraints.txt
	PY=$(PY) VENV=$(VENV) bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(BIN)/robustune demo --out demo-out

lint: setup
	$(BIN)/ruff check plugins finetune robustness explain robustune tests bench
	$(BIN)/mypy plugins finetune robustness explain robustune

# two workers (pytest-xdist), a module's tests on one of them (its trained fixtures stay shared)
pytest: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --durations=25 tests

# lint runs beside pytest (the suite leaves part of the two cores idle while it waits on its servers)
test: setup
	$(MAKE) --no-print-directory -j2 lint pytest

bench: setup
	$(BIN)/pip install -q -c constraints.txt adversarial-robustness-toolbox statsmodels  # ART: the PGD and certify benchmarks' anchor (its certify needs statsmodels)
	$(BIN)/pip install -q -c constraints.txt netcal pytorch-ood torch-geometric  # the trust benchmark's anchors (TorchCP imports torch-geometric)
	$(BIN)/pip install -q --no-deps torchcp  # its torchsort (training losses only) does not build here
	$(BIN)/pip install -q -c constraints.txt cleanlab scikit-image  # the labels benchmark's anchor; HOG for the image baseline
	$(BIN)/python bench/run_all.py

# Refresh the pins: install newer versions into .venv (pip install -U ...), run `make test`, then
# `make lock` writes what is installed now to constraints.txt; commit it with the passing tests.
lock:
	$(BIN)/pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) demo-out bench/out
