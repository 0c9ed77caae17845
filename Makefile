# DMS Sync Console — `make run` serves the console, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench setup clean

# (Re)install only when requirements.txt changes: a second `make run` starts in seconds.
$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m webapp.runner

test: setup
	$(PY) -m pytest

bench: setup
	@set -e; for f in tests/bench/*.py; do echo "== $$f"; $(PY) $$f; done

clean:
	rm -rf $(VENV) instance .pytest_cache
