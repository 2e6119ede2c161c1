# One virtualenv for the program, the tooling and the tests (Pulumi.yaml points
# the real CLI at the same .venv). Recreated whenever a pinned file changes.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: check test lint previews bench

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Evaluate every stack offline under mocks and run the residency policy pack on it.
check: $(BIN)/.installed
	$(BIN)/python -m enclave check --all

## Lint, then the whole offline test suite (what CI runs).
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m enclave plan --check --all
	$(BIN)/python -m pytest -n 2

## Regenerate the committed reviewer previews (previews/) from the program.
previews: $(BIN)/.installed
	$(BIN)/python -m enclave plan --all

## Benchmarks (about 8 minutes): floor, check, policy throughput, sites, test suite.
bench: $(BIN)/.installed
	$(BIN)/python -m bench

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
