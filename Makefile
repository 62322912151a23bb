# One command sets up and runs the main job; one sets up and runs the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-slow test-faults lint format bench clean

$(BIN)/stylex: pyproject.toml
	bash scripts/setup.sh $(VENV)
	@touch $@

setup: $(BIN)/stylex

demo: setup
	$(BIN)/stylex demo --force

test: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

test-slow: setup
	$(BIN)/python -m pytest -m slow

test-faults: setup
	$(BIN)/python -m pytest -m faults tests/test_robustness.py

lint:
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

format:
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench: setup
	$(BIN)/python benchmarks/generator.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
