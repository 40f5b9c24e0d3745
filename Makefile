# Distillery: `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
USERS  ?= 100000

.PHONY: help install install-test demo test test-fast bench lint clean

help:  ## Show this help.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	command -v gcc >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq gcc) || echo "no C compiler: scoring will use LightGBM's own predict (same scores, slower)"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed package.json package-lock.json
	$(PIP) install -q -e ".[test]"
	npm ci --no-audit --no-fund --loglevel=error  # Azurite, for the storage tests
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)  # the report's browser test
	command -v gcc >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq gcc)  # the compiled-trees tests
	touch $@

install: $(VENV)/.installed  ## Install Distillery into .venv.

install-test: $(VENV)/.installed-test  ## Install Distillery and the test dependencies.

demo: install  ## Install, then run the main job on the embedded default (USERS=100000).
	$(VENV)/bin/distillery --home .distillery run --users $(USERS)

test: install-test  ## Install the test dependencies and run every test.
	$(PY) -m pytest -n 2 --dist loadgroup -q

test-fast: install-test  ## Run the tests not marked slow or services.
	$(PY) -m pytest -n 2 -q -m "not slow and not services and not spark"

bench: install  ## Run the benchmarks (prints figures; no assertions).
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:  ## Remove the virtualenv and caches (not your data).
	rm -rf $(VENV) .pytest_cache build *.egg-info
