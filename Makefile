# Two commands a new user needs: `make run` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help setup run test lint format browser loadbalancer cluster bench soak clean

help:
	@echo "make run    - set up and run the panel, the SCIM endpoint and a Celery worker on $(HOST):$(PORT)"
	@echo "make test   - set up and run ruff, mypy and the whole test suite"
	@echo "make lint   - ruff (lint and format check) and mypy"
	@echo "make format - apply ruff's formatting and safe fixes"
	@echo "make bench  - performance benchmarks (see docs/benchmarks.md)"
	@echo "make soak   - sustained mixed Entra ID load with data and memory checks (docs/operations.md)"
	@echo "make cluster - two web nodes, two workers and beat behind HAProxy on loopback (CLUSTER_PORT, default 8080)"
	@echo "make clean  - remove the virtualenv and local data under var/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

# A local .env with a fresh secret key, so manage.py works by hand too. Never used in production.
.env:
	@printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "Wrote .env for local development (DEBUG=true, a random SECRET_KEY)."

setup: $(STAMP) .env

# SITE_URL follows HOST and PORT unless set, so printed links and the Tenant URL point here.
run: export SITE_URL ?= http://$(HOST):$(PORT)
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap_demo
	@echo "Starting the web server (panel and SCIM) and a Celery worker with beat. Ctrl-C stops both."
	$(BIN)/python manage.py devserver $(HOST):$(PORT)

# $(call debian_package,PROGRAM,PACKAGE,WHAT FOR,IF NOT POSSIBLE,THEN): install a Debian package when
# its program is missing and we may (root, apt-get); otherwise say why and run THEN (`true` to go
# on, `exit 1` to stop). No commas in the arguments: make would split them.
define debian_package
	@if ! PATH="$$PATH:/usr/sbin" command -v $(1) >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing $(2) for $(3)..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
		else \
			echo "NOTICE: $(2) is not installed and cannot be installed here (Debian: apt-get install -y $(2)): $(4)"; $(5); \
		fi; \
	fi
endef

# Browser tests drive Debian's Chromium.
browser:
	$(call debian_package,chromium,chromium,the browser tests,browser tests will be skipped.,true)

# The cluster (make cluster, tests/cluster/) puts Debian's HAProxy in front of the web nodes.
loadbalancer:
	$(call debian_package,haproxy,haproxy,the cluster,make cluster will not start and the cluster tests will be skipped.,true)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup browser loadbalancer lint
	$(BIN)/pytest

# The load generator is Debian's wrk; installed like Chromium when missing and allowed.
bench: setup loadbalancer
	$(call debian_package,wrk,wrk,make bench,make bench needs it.,exit 1)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.cluster

# SOAK_SECONDS (default 120) and SOAK_RATE (default 100 requests/s) size the run.
soak: setup
	$(BIN)/python -m bench.soak

# Needs the machine's PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379). Ctrl-C stops it all.
cluster: setup loadbalancer
	$(BIN)/python -m nordpass_admin.cluster

clean:
	rm -rf $(VENV) var
