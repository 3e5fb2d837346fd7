# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs what it needs; re-running skips installs until pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench-storage bench-throughput bench-pruning bench-samplers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python examples/mlp_digits.py $(ARGS)

test: $(VENV)/.dev-installed lint typecheck unit

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

unit: $(VENV)/.dev-installed
	$(BIN)/pytest

bench-storage: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/storage.py $(ARGS)

bench-throughput: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.throughput $(ARGS)

bench-pruning: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/pruning.py $(ARGS)

bench-samplers: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.samplers.run $(ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
