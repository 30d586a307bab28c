# statusdash: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test test-postgres lint bench backup db-shell
.PHONY: setup certs build up down logs status restart agent-build deploy-agent-all agent-status clean engine env-secrets

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

test: $(STAMP) ## Run the test suite (Redis/PostgreSQL/browser tests skip when those are missing, except in CI; reliability: make test-reliability)
	$(PY) -m pytest -n 2 --dist load -m "not reliability" $(PYTEST_ARGS)

test-postgres: $(STAMP) ## Run the whole suite again against PostgreSQL
	DATABASE_URL=$(POSTGRES_TEST_URL) $(PY) -m pytest -n 2 --dist load -m "not reliability" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint and format check), mypy, and import-linter (the layers in docs/architecture.md)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

bench: $(STAMP) ## Run the benchmarks (prints figures; see docs/benchmarks.md)
	$(PY) bench/ingest.py
	$(PY) bench/storage.py
	$(PY) bench/observability.py
	$(PY) bench/footprint.py

backup: $(STAMP) ## Back the database up now into DATA_DIR/backups/databases/ (restore: manage.py restore FILE)
	$(PY) manage.py backup

db-shell: $(STAMP) ## Open a SQL shell on the database (sqlite3, or psql with DATABASE_URL)
	$(PY) manage.py dbshell

# --- Setup, certificates, containers -----------------------------------------------------

# The container engine's compose: the Docker plugin, docker-compose, or podman-compose.
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo docker compose; \
	elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; \
	elif command -v podman-compose >/dev/null 2>&1; then echo podman-compose; fi)
ENGINE ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
# Containers run as the owner of the data directories (never root; 10001 when make runs as root).
HOST_UID := $(shell id -u)
export STATUSDASH_UID ?= $(if $(filter 0,$(HOST_UID)),10001,$(HOST_UID))
export STATUSDASH_GID ?= $(if $(filter 0,$(HOST_UID)),10001,$(shell id -g))
HTTPS_PORT ?= $(or $(shell sed -n 's/^STATUS_PORT=//p' .env 2>/dev/null),5000)

setup: ## Create .env with generated secrets (keeps values already set) and the data directories
	@test -f .env || { cp .env.example .env && chmod 600 .env && echo "created .env from .env.example"; }
	@for name in STATUS_ADMIN_PASSWORD STATUS_JWT_SECRET SECRET_KEY; do \
	  if grep -q "^$$name=$$" .env; then \
	    secret=$$(openssl rand -base64 64 | tr -dc 'A-Za-z0-9' | cut -c1-$$( [ $$name = STATUS_ADMIN_PASSWORD ] && echo 24 || echo 64)); \
	    sed -i "s|^$$name=$$|$$name=$$secret|" .env && echo "generated $$name"; \
	  fi; \
	done
	@data=$$(sed -n 's/^DATA_DIR=//p' .env); data=$${data:-./var}; \
	grep -q '^VAULT_PATH=.' .env || sed -i "s|^VAULT_PATH=.*|VAULT_PATH=$$data/vault|" .env; \
	vault=$$(sed -n 's/^VAULT_PATH=//p' .env); vault=$${vault:-$$data/vault}; \
	mkdir -p "$$data/db" "$$data/backups/databases" "$$vault/certs" && \
	if [ "$(HOST_UID)" = 0 ]; then chown -R $(STATUSDASH_UID):$(STATUSDASH_GID) "$$data/db" "$$data/backups"; fi && \
	echo "data directories ready under $$data (vault: $$vault)"
	@echo "next: review .env (PUBLIC_URL, MTLS_ENABLED), then: make certs"

certs: $(STAMP) ## CA (if absent), the hub's server certificate, a client certificate per agent/deploy/*.env host
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py certs bootstrap

# Prerequisite of the container targets: say clearly what is missing instead of a socket error.
engine:
	@test -n "$(COMPOSE)" || { echo "make $(MAKECMDGOALS): no compose found; install Docker (with the compose plugin), docker-compose or podman-compose" >&2; exit 1; }
	@test -n "$(ENGINE)" && $(ENGINE) info >/dev/null 2>&1 || { echo "make $(MAKECMDGOALS): no container engine is running ($(or $(ENGINE),docker) info failed); start it, e.g. sudo systemctl start docker, or systemctl --user start podman.socket" >&2; exit 1; }

build: engine ## Build the hub's container image
	$(COMPOSE) build

# Every container must share one SECRET_KEY and STATUS_JWT_SECRET: generated per container they
# would break sessions and tokens across web replicas and at every re-create.
env-secrets:
	@test -f .env || { echo "make $(MAKECMDGOALS): no .env; run make setup first" >&2; exit 1; }
	@for name in SECRET_KEY STATUS_JWT_SECRET; do grep -q "^$$name=." .env || { echo "make $(MAKECMDGOALS): $$name is empty in .env; run make setup to generate it" >&2; exit 1; }; done

up: engine env-secrets ## Start the hub in containers (nginx with mTLS, web, worker, beat, redis)
	@vault=$$(sed -n 's/^VAULT_PATH=//p' .env); test -f "$${vault:-./var/vault}/certs/server/status.crt" || { echo "make up: no server certificate in $${vault:-./var/vault}/certs; run make certs first" >&2; exit 1; }
	$(COMPOSE) up -d
	@echo "statusdash: https://localhost:$(HTTPS_PORT)/ (make status, make logs)"

down: engine ## Stop and remove the containers (data stays in DATA_DIR)
	$(COMPOSE) down

logs: engine ## Follow the containers' logs (SERVICE=web for one)
	$(COMPOSE) logs -f --tail=200 $(SERVICE)

status: engine ## Health of every service, and the hub's /health through nginx
	$(COMPOSE) ps
	@vault=$$(sed -n 's/^VAULT_PATH=//p' .env 2>/dev/null); \
	curl -fsS --max-time 5 --cacert "$${vault:-./var/vault}/certs/ca/ca.crt" https://localhost:$(HTTPS_PORT)/health && echo || \
	{ echo "statusdash: /health did not answer on https://localhost:$(HTTPS_PORT)/" >&2; exit 1; }

restart: engine ## Restart the containers
	$(COMPOSE) restart

clean: engine ## Remove the containers, images and the cache volume, and local build files (never DATA_DIR)
	$(COMPOSE) down --rmi local --volumes --remove-orphans
	rm -rf staticfiles dist .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +

# --- Agents (agent/Makefile) --------------------------------------------------------------

agent-build: ## Package the agent into dist/
	$(MAKE) -C agent $@

deploy-agent-all: ## Deploy the agent to every host in agent/deploy/*.env
	$(MAKE) -C agent $@

deploy-agent-%: ## Deploy the agent to one host (platform, vpn, apricot)
	$(MAKE) -C agent $@

agent-status: ## Is the agent running on each host?
	$(MAKE) -C agent $@

# The agent ships alone to hosts whose Python is anything from 3.9 to 3.13: its tests run on
# each, standalone (no Django, no project conftest), in a venv per interpreter made once from
# the package index and kept in var/agent-pythons/ until the agent's requirements change.
AGENT_PYTHONS ?= 3.9 3.10 3.11 3.12 3.13
AGENT_VENVS ?= var/agent-pythons
PYENV_ROOT ?= $(HOME)/.pyenv

.PHONY: test-agent-pythons
test-agent-pythons: ## The agent's own tests on every Python 3.9 to 3.13 here (a missing one fails in CI, is skipped elsewhere)
	@key=$$(cat agent/requirements.txt agent/requirements-enroll.txt agent/tests/requirements.txt | sha1sum | cut -c1-12); \
	failed=""; missing=""; \
	for v in $(AGENT_PYTHONS); do \
	  py=python$$v; \
	  $$py -c '' 2>/dev/null || py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python$$v 2>/dev/null | sort -V | tail -n 1); \
	  if [ -z "$$py" ]; then missing="$$missing $$v"; echo "== Python $$v: not found (python$$v, $(PYENV_ROOT)/versions/$$v.*)"; continue; fi; \
	  venv=$(AGENT_VENVS)/$$v; \
	  if [ ! -f $$venv/.installed-$$key ]; then \
	    echo "== Python $$v: venv in $$venv from $$py"; rm -rf $$venv; \
	    $$py -m venv $$venv && $$venv/bin/python -m pip install --quiet --disable-pip-version-check -r agent/tests/requirements.txt \
	      && touch $$venv/.installed-$$key || { failed="$$failed $$v(venv)"; continue; }; \
	  fi; \
	  echo "== Python $$v: $$($$venv/bin/python -c 'import sys; print(sys.version.split()[0])') agent/tests"; \
	  $$venv/bin/python -m pytest -c agent/tests/standalone.ini -q agent/tests $(PYTEST_ARGS) || failed="$$failed $$v"; \
	done; \
	if [ -n "$$missing" ] && [ -n "$${CI:-}" ]; then failed="$$failed$$missing(missing)"; fi; \
	if [ -n "$$failed" ]; then echo "agent tests failed on Python:$$failed" >&2; exit 1; fi; \
	echo "agent tests passed on Python $(AGENT_PYTHONS)$${missing:+ except the missing$$missing}"

.PHONY: test-reliability
test-reliability: $(STAMP) ## Load, faults and hostile input against real servers (about 5 minutes; see docs/reliability.md)
	$(PY) -m pytest -m reliability statusdash/tests/reliability -s -p no:cacheprovider --durations=10 $(PYTEST_ARGS)

.PHONY: test-reliability-postgres
test-reliability-postgres: $(STAMP) ## The same with each hub on a fresh PostgreSQL database on POSTGRES_TEST_URL's server (dropped after)
	DATABASE_URL=$(POSTGRES_TEST_URL) $(PY) -m pytest -m reliability statusdash/tests/reliability -s -p no:cacheprovider --durations=10 $(PYTEST_ARGS)
