# Set-up is part of every target: `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint pytest bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/setup.sh
	PY=$(PY) VENV=$(VENV) bash scripts/setup.sh
	touch $(STAMP)

demo: setup
	$(BIN)/robustune demo --out demo-out

lint: setup
	$(BIN)/ruff check plugins finetune robustness explain robustune tests bench
	$(BIN)/mypy plugins finetune robustness explain robustune

pytest: setup
	$(BIN)/python -m pytest -q tests

test: lint pytest

bench: setup
	$(BIN)/pip install -q adversarial-robustness-toolbox  # ART: only the PGD benchmark compares against it
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-out bench/out
