# Two commands for a newcomer: `make run` and `make test`. Everything runs from .venv.
# The first interpreter that really runs and is 3.11 or 3.12 (the embedded servers' wheels), else
# any 3.11+ (pyenv shims exist for versions that are not active, hence the test run).
PYTHON ?= $(shell for p in python3 python3.12 python3.11 python3.13 python3.14; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && { echo $$p; exit; }; \
	done; for p in python3 python3.13 python3.14; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; exit; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test lint bench reliability docs docs-build lock clean

$(STAMP): pyproject.toml requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 or newer is needed (python3.11 or python3.12)" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements-dev.txt -e '.[dev,docs,embedded]'
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

# The docs site (mkdocs-material): `make docs` serves it at http://127.0.0.1:8088 with live reload;
# `make docs-build` builds it into .local/site in strict mode, where any warning fails.
# NO_MKDOCS_2_WARNING silences material's banner about its successor (not a docs warning).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8088

docs-build: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The lock files, from pyproject.toml: requirements.txt (what the Docker image runs, with hashes)
# and requirements-dev.txt (every extra; `make install` and CI install under it as constraints).
# `make lock` refreshes both to the newest versions pyproject allows; commit them with the change.
# Compiled on Linux with Python 3.11; the embedded servers' platform markers stay in pyproject.
PIP_COMPILE := $(BIN)/pip-compile --quiet --upgrade --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links
lock:  # needs .venv (make install) for pip-compile
	$(PIP_COMPILE) --generate-hashes -o requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra dev --extra docs --extra embedded -o requirements-dev.txt pyproject.toml

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
