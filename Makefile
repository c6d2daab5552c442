# Two commands on a fresh machine: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
TEST_WORKERS ?= 3
export PYTHONPATH := $(CURDIR)/operator:$(CURDIR)

.PHONY: help venv tools image crds chart-docs lint test test-fast demo demo-down bench soak clean

help:
	@echo "make demo       control plane + Milvus test server + operator + examples, ending with a verified restore"
	@echo "make test       everything: lint, types, unit, integration, end-to-end and node tests"
	@echo "make image      the operator image from the Dockerfile, built with buildah (cached by its inputs)"
	@echo "make test-fast  unit tests only (no servers)"
	@echo "make demo-down  stop what the demo started"
	@echo "make bench      benchmarks (figures, not tests)"
	@echo "make soak       chaos soak: 100 lifecycles under SIGKILLs and restarts, invariants checked"

venv: $(STAMP)
$(STAMP): pyproject.toml
	@echo "venv: creating $(VENV) and installing the project with its dev dependencies"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

tools:
	@testbed/install-tools.sh

# The operator image, daemonless (buildah) on a debootstrapped Debian Python base; rebuilt only when the
# Dockerfile, pyproject.toml or operator/ changed. Prints the image name and its size.
image: venv tools
	@$(PY) -m testbed.images

crds: venv
	@$(PY) -m milvus_snapshot_operator.crdgen crds charts/milvus-snapshot-operator/crds

chart-docs: venv
	@$(PY) -m tests.chart.values_table
	@$(PY) -m tests.gitops.argocd_cm

lint: venv
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports

test: venv tools lint
	@$(PY) -m testbed.images --for-tests
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast: venv
	@$(PY) -m pytest tests/unit

demo: venv tools
	@$(PY) -m testbed.demo

demo-down: venv
	@$(PY) -m testbed.demo --down

bench: venv tools
	@$(PY) benchmarks/run.py

soak: venv tools
	@$(PY) -m testbed.soak --lifecycles $${SOAK_LIFECYCLES:-100} $${SOAK_SEED:+--seed $$SOAK_SEED}

clean: demo-down
	rm -rf .testbed .pytest_cache .mypy_cache .ruff_cache
