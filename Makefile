# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv when it is missing and install what they need into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTANCE ?= instance
DOMAIN ?= localhost:8000
PYTEST_ARGS ?=

.PHONY: run test install install-test clean-instance help

help:
	@echo "make run    set up and serve a demo instance on http://$(DOMAIN) (data in ./$(INSTANCE); DOMAIN=localhost:PORT for another port)"
	@echo "make test   set up and run the whole test suite (SQLite, and PostgreSQL when reachable)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fedisora needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[postgres]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-test: $(VENV)/.installed-test

run: $(VENV)/.installed-run
	@test -f $(INSTANCE)/instance.toml || $(BIN)/fedisora init --domain $(DOMAIN) --data-dir $(INSTANCE) --dev
	$(BIN)/fedisora db upgrade --config $(INSTANCE)/instance.toml
	$(BIN)/fedisora serve --config $(INSTANCE)/instance.toml

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-instance:
	rm -rf $(INSTANCE)
