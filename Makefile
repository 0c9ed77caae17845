# DMS Sync Console — `make run` serves the console, `make test` runs the suite.
# Any Python 3.11 or newer: the first of these names found on PATH (or PYTHON=/path/to/python).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run test bench lint format lock setup setup-dev clean

# (Re)install only when a lock file changes: a second `make run` starts in seconds.
# requirements.txt (runtime) and requirements-dev.txt (tests, benchmarks, lint) are locks made
# by pip-compile from the .in files: `make lock` after editing those.
$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (none found on PATH; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements.txt | $(VENV)/bin/python
	$(PIP) -r requirements.txt
	@touch $@

$(DEV): requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(PIP) -r requirements.txt -r requirements-dev.txt
	@touch $@ $(RUNTIME)

setup: $(RUNTIME)
setup-dev: $(DEV)

run: setup
	$(PY) -m webapp.runner

# Two test processes (pytest-xdist): a test spends about a third of its time waiting on a
# subprocess, the sandbox DMS or the browser. TEST_PROCESSES=0 runs one process.
TEST_PROCESSES ?= 2
test: setup-dev
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist worksteal

bench: setup-dev
	@set -e; for f in tests/bench/*.py; do echo "== $$f"; $(PY) $$f; done

# Lint and format check, as CI runs them (`make format` rewrites the files).
lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup-dev
	$(VENV)/bin/ruff format .

lock: setup-dev
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) instance .pytest_cache
