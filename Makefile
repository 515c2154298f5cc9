# Two commands for a newcomer: `make run` and `make test`. Everything runs from .venv.
PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test lint bench reliability clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python deploy/stack.py run

demo: $(STAMP)
	$(BIN)/python deploy/stack.py demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -q -r services shared

bench: $(STAMP)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

reliability: $(STAMP)
	$(BIN)/python -m tests.reliability $(RELIABILITY_ARGS)

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
