# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
# Browser tests drive the system Chromium; never let Playwright download its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench mutation lock clean i18n browser documents rabbitmq

# The venv holds exactly the development lock (dev, embedded and mutation extras),
# then the project itself, editable and without resolving anything. `pip check`
# catches a pyproject.toml whose dependencies the lock does not cover: `make lock`.
$(STAMP): requirements/dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check || { echo "requirements/ is out of date with pyproject.toml: make lock"; exit 1; }
	touch $(STAMP)

## run: API, one Celery worker and beat; embedded PostgreSQL/Redis/localstripe where unset
run: $(STAMP) documents
	$(BIN)/streamsvc run

## test: lint, type-check, then the whole suite against real servers
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy streamsvc workers config bench tests scripts

# The suite runs on every core (pytest-xdist): each worker process starts its own
# servers and database (tests/harness.py); a test module stays on one worker, so the
# module-scoped servers of the browser and e2e tests start once.
PYTEST_WORKERS ?= auto
unit: $(STAMP) browser documents rabbitmq
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# RabbitMQ for the scale-out test and the soak (tests/e2e/topology.py), from apt when
# missing, started when nothing answers on 5672; without root those skip.
rabbitmq:
	-scripts/install-rabbitmq

# Chromium for the browser tests (tests/browser), from apt when missing; Playwright's
# own download is never used. Without root the browser tests install nothing and skip.
browser:
	-scripts/install-browser

# Pango and fonts for the PDF documents (statements, receipts, payout advices), from apt
# when missing; without root nothing is installed and the PDF routes answer 503.
documents:
	-scripts/install-document-stack

## i18n: extract the pages' msgids (babel.cfg) and update locale/{nl,en,fr}; then translate by hand
LOCALE := streamsvc/web/locale
i18n: $(STAMP)
	$(BIN)/pybabel --quiet extract --no-wrap -F babel.cfg --project streamsvc -o $(LOCALE)/messages.pot .
	for lang in nl en fr; do \
		if [ -f $(LOCALE)/$$lang/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel --quiet update --no-wrap --ignore-obsolete --no-fuzzy-matching \
				-i $(LOCALE)/messages.pot -d $(LOCALE) -l $$lang; \
		else \
			$(BIN)/pybabel --quiet init --no-wrap -i $(LOCALE)/messages.pot -d $(LOCALE) -l $$lang; \
		fi; \
	done

## bench: benchmarks under bench/, JSON results in bench/results/ (BENCH_ARGS: names, options)
bench: $(STAMP) rabbitmq
	-scripts/install-wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

## mutation: mutmut over the money and access paths; figures in bench/results/mutation.json
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py

# Python 3.11 on Linux, from PyPI, with hashes. dev.txt is what `make` installs;
# prod.txt what the image installs, at dev.txt's versions (the tested ones);
# localstripe.txt the demo image's localstripe, at dev.txt's versions too. Upgrade one package: LOCK_ARGS='--upgrade-package stripe'.
LOCK := $(BIN)/uv pip compile --quiet --python-version 3.11 --python-platform linux \
	--generate-hashes --index-url https://pypi.org/simple --custom-compile-command 'make lock'$(if $(LOCK_ARGS), $(LOCK_ARGS))

## lock: regenerate requirements/*.txt from pyproject.toml (LOCK_ARGS: --upgrade, --upgrade-package NAME)
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet 'uv>=0.5,<1'
	$(LOCK) pyproject.toml --extra dev --extra embedded --extra mutation -o requirements/dev.txt
	$(LOCK) pyproject.toml --constraint requirements/dev.txt -o requirements/prod.txt
	$(LOCK) requirements/localstripe.in --constraint requirements/dev.txt -o requirements/localstripe.txt

clean:
	rm -rf mutants $(VENV) .mypy_cache .pytest_cache .ruff_cache
