# Grokweb: the two commands a newcomer needs are `make run` and `make test`.
# Everything else is here for maintainers. GNU make; needs python3.11 and node/npm.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# One step at a time: the test stages share var/test.sqlite3 and the ports they pick.
.NOTPARALLEL:

HOST ?= 127.0.0.1
PORT ?= 8000
EMULATOR_PORT ?= 8100
# Where the browser (and the printed sign-in URL) reaches the server: 0.0.0.0 / :: are bind-all addresses.
URL_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))
BASE_URL := http://$(URL_HOST):$(PORT)/

# python3.11 if it is on PATH, else python3 (which must then be 3.11: see pyproject.toml).
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
endif
NPM ?= npm
NODE ?= node
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
# Debian's Chromium drives the browser tests (tests/e2e/conftest.py reads E2E_CHROMIUM).
export E2E_CHROMIUM ?= /usr/bin/chromium

# Stamps: reinstall only when the manifests change.
PY_STAMP := $(VENV)/.grokweb-installed
NODE_STAMP := node_modules/.grokweb-installed
VENDOR_STAMP := static/vendor/.grokweb-vendored
# Our own modules (static/js/) built into static/build/ by scripts/build.mjs (esbuild, from node_modules).
BUILD_STAMP := static/build/.grokweb-built

# The integration set needs real PostgreSQL and Redis (see tests/integration/conftest.py).
# pytest-django creates and drops its own database, test_<NAME>, next to NAME.
INTEGRATION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/grokweb
INTEGRATION_REDIS_URL ?= redis://127.0.0.1:6379/15

# pytest-xdist processes for the unit tests (each with its own SQLite file and emulator).
# 0, one process, measured faster than 2 on this shared, busy 2-core machine
# (docs/benchmarks.md, "Test suite"); TEST_WORKERS=2 may pay off on an idle one.
TEST_WORKERS ?= 0

BENCH_ARGS ?=
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/grokweb_bench

.PHONY: help setup run test test-unit test-js test-e2e test-integration lint bench bench-report bench-ui emulator collectstatic clean distclean

help:
	@echo "Grokweb"
	@echo "  make run               install what is missing, migrate, then serve on $(BASE_URL)"
	@echo "  make test              unit/functional tests, front-end (node) tests, then browser tests (Chromium)"
	@echo "  make test-integration  tests against real PostgreSQL + Redis"
	@echo "  make lint              ruff + mypy + import-linter (layering)"
	@echo "  make bench             database-write, failover, relay (unpaced, then paced) benchmarks (BENCH_ARGS=--quick)"
	@echo "  make bench-report      usage-report benchmark on PostgreSQL (BENCH_DATABASE_URL)"
	@echo "  make bench-ui          the chat page in Chromium: long chats, streaming, a big sidebar"
	@echo "  make emulator          the Grok gateway emulator alone on port $(EMULATOR_PORT)"
	@echo "  make clean / distclean remove build and test leftovers / also .venv and node_modules"

# --- setup -------------------------------------------------------------------

setup: $(PY_STAMP) $(VENDOR_STAMP) $(BUILD_STAMP)

$(PY_STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  if [ -z "$(PYTHON)" ]; then echo "error: python3.11 not found on PATH" >&2; exit 1; fi; \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	    || { echo "error: $(PYTHON) is not Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }; \
	  echo "Creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json $(wildcard package-lock.json)
	@command -v $(NPM) >/dev/null || { echo "error: npm not found on PATH (Node.js is needed for the front-end libraries)" >&2; exit 1; }
	$(NPM) install --no-audit --no-fund
	@mkdir -p $(@D) && touch $@

# npm's postinstall already copies the vendor files; this re-copies them when
# static/vendor/ was removed (make clean) or the copy script changed.
$(VENDOR_STAMP): $(NODE_STAMP) $(wildcard scripts/vendor.mjs)
	$(NPM) run --silent vendor
	@mkdir -p $(@D) && touch $@

# The chat page loads static/build/, never static/js/ itself: rebuilt whenever a module changed.
$(BUILD_STAMP): $(NODE_STAMP) scripts/build.mjs $(wildcard static/js/*.js)
	$(NODE) scripts/build.mjs
	@touch $@

collectstatic: setup
	$(PY) manage.py collectstatic --noinput --verbosity 0

# --- run ---------------------------------------------------------------------

# The built-in emulator is mounted in the same daphne process at /emulator/v1;
# it is the provider unless an API key (XAI_API_KEY, ...) is configured.
run: export EMULATOR_URL ?= http://$(URL_HOST):$(PORT)/emulator/v1
run: collectstatic
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap --url $(BASE_URL)
	@echo
	@echo "Grokweb is starting: open $(BASE_URL)accounts/login/   (Ctrl-C stops it)"
	@echo
	@# One daphne (SQLite and the in-memory channel layer are one process's), launched as the
	@# team deployment is: a deep listen backlog and a 30 s handshake timeout for bursts of tabs.
	WEB_PROCESSES=$${WEB_PROCESSES:-1} exec $(PY) scripts/web.py --host $(HOST) --port $(PORT)

# --- tests -------------------------------------------------------------------
# pytest exits 5 when it collects nothing; make treats that like any failure.

test: test-unit test-js test-e2e

# The integration and browser directories are not even collected here: under
# CI=true, tests/integration/conftest.py refuses to run without PostgreSQL + Redis.
# No collectstatic needed: tests/settings.py serves static files unhashed.
# The suite is parallel-safe: TEST_WORKERS=2 runs it in two pytest-xdist processes.
test-unit: setup
	$(PYTEST) -n $(TEST_WORKERS) -m "not integration and not e2e" --ignore=tests/integration --ignore=tests/e2e

# Browser tests run in their own pytest process (Playwright's sync API and
# pytest-asyncio do not share an event loop; the tests start their own server,
# so pytest-django stays out too), against Debian's Chromium. The server fixture
# collects static files into its own temporary STATIC_ROOT.
test-e2e: setup
	@if [ ! -x $(E2E_CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium for the browser tests (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi
	@if [ ! -x $(E2E_CHROMIUM) ]; then \
	  if [ "$${CI:-}" = true ]; then \
	    echo "error: $(E2E_CHROMIUM) is missing and CI=true: browser tests cannot be skipped" >&2; exit 1; \
	  fi; \
	  echo "warning: $(E2E_CHROMIUM) not found: browser tests SKIPPED (install Debian's chromium package)" >&2; \
	else \
	  $(PYTEST) tests/e2e -m e2e -p no:asyncio -p no:django -W "ignore:Unknown config option:pytest.PytestConfigWarning"; \
	fi

# The front-end modules' tests (tests/js), with Node's own test runner.
test-js: $(NODE_STAMP)
	$(NPM) test

# One process: pytest-xdist workers would get a database each but share the Redis db
# (rate counters keyed by user id, the channel layer each test flushes).
test-integration: export DATABASE_URL = $(INTEGRATION_DATABASE_URL)
test-integration: export REDIS_URL = $(INTEGRATION_REDIS_URL)
test-integration: export CELERY_BROKER_URL = $(INTEGRATION_REDIS_URL)
test-integration: setup
	$(PYTEST) -m integration

# --- maintenance -------------------------------------------------------------

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gateways usage accounts chat teamapi grokweb emulator
	$(VENV)/bin/lint-imports

bench: collectstatic
	$(PY) bench/writes.py
	$(PY) bench/failover.py
	$(PY) bench/relay.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/relay_paced.py $(BENCH_ARGS)

# 2,000,000 ledger rows in PostgreSQL (a few minutes to load; BENCH_ARGS=--reuse re-measures).
bench-report: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench-report: collectstatic
	$(PY) bench/report.py $(BENCH_ARGS)

# The chat page in Debian's Chromium (E2E_CHROMIUM): BENCH_ARGS=--quick, --parts open,stream,sidebar.
bench-ui: collectstatic
	$(PY) bench/ui.py $(BENCH_ARGS)

emulator: setup
	$(PY) manage.py run_emulator --host $(HOST) --port $(EMULATOR_PORT)

# Keeps var/ (the SQLite database, the generated secret key) and .env.
clean:
	rm -rf staticfiles static/vendor static/build .pytest_cache .mypy_cache .ruff_cache tests/e2e/screenshots
	rm -f var/test.sqlite3*
	find . \( -path ./.venv -o -path ./node_modules -o -path ./.git \) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
