# statusdash: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test test-postgres lint bench

help: ## List the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "statusdash needs $(PYTHON) on PATH (or: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## Create .venv and install the pinned dependencies

run: $(STAMP) ## Migrate and start everything on this machine (SQLite, no Redis, a local agent); Ctrl-C stops
	$(PY) -m statusdash.run

test: $(STAMP) ## Run the test suite (Redis/PostgreSQL/browser tests skip when those are missing, except in CI)
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test-postgres: $(STAMP) ## Run the whole suite again against PostgreSQL
	DATABASE_URL=$(POSTGRES_TEST_URL) $(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

bench: $(STAMP) ## Run the benchmarks (prints figures; see docs/benchmarks.md)
	$(PY) bench/ingest.py

.PHONY: test-reliability
test-reliability: $(STAMP) ## Load, faults and hostile input against real servers (about 5 minutes; see docs/reliability.md)
	$(PY) -m pytest -m reliability statusdash/tests/reliability -s -p no:cacheprovider --durations=10 $(PYTEST_ARGS)
