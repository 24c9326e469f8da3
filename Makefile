# The two commands of the quick start:
#   make run   - set up and run the whole stack (Keycloak, both services) on embedded defaults
#   make test  - set up and run the whole test suite (lint, unit and integration tests)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test system setup env lint migrate bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

system:
	bash scripts/system_deps.sh

setup: system $(VENV)/.installed

env: setup
	$(PY) scripts/dev_env.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

migrate: setup env
	$(VENV)/bin/honcho run $(PY) scripts/prepare_services.py

run: setup env migrate
	bash scripts/keycloak.sh fetch
	$(VENV)/bin/honcho start

# The production-like stack: PostgreSQL, Redis, Keycloak, both services under gunicorn, two delivery
# workers (scripts/stack/; README: Production-like mode). Ctrl-C stops it all.
.PHONY: run-prod
run-prod: setup env
	bash scripts/keycloak.sh fetch
	$(VENV)/bin/honcho run $(PY) -m scripts.stack run

test: setup lint
	bash scripts/keycloak.sh fetch
	$(PY) -m pytest

bench: setup
	$(PY) bench/receiver.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
