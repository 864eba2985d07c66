# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: API, one Celery worker and beat; embedded PostgreSQL/Redis/localstripe where unset
run: $(STAMP)
	$(BIN)/streamsvc run

## test: lint, type-check, then the whole suite against real servers
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy streamsvc workers config bench tests scripts

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

## bench: benchmarks under bench/, JSON results in bench/results/ (BENCH_ARGS: names, options)
bench: $(STAMP)
	-scripts/install-wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

## mutation: mutmut over the money and access paths; figures in bench/results/mutation.json
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,mutation]'
	$(BIN)/python scripts/mutation.py

clean:
	rm -rf mutants $(VENV) .mypy_cache .pytest_cache .ruff_cache
