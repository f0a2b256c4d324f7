# One command to run Shepherd, one to test it. `make test` builds .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: test test-fast test-slow bench lint sandbox worker clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

bench: $(STAMP)
	@$(PY) -m benchmarks

# ruff (style), lint-imports (the layers: [tool.importlinter] in pyproject.toml) and mypy (types:
# [tool.mypy]). The checkout goes first on the path, so the contracts read this tree's packages.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports
	PYTHONPATH=$(CURDIR) $(VENV)/bin/mypy

# Try Shepherd without Slack: embedded Redis, the Slack sandbox and its web console, the bot and
# a worker, with the example processes; prints the console URL. SANDBOX_ARGS="--port 9000" etc.
sandbox: $(STAMP)
	SHEPHERD_PROCESSES_PATH=$${SHEPHERD_PROCESSES_PATH:-tests/examples} $(VENV)/bin/shepherd sandbox $(SANDBOX_ARGS)

clean:
	rm -rf $(VENV) .shepherd .pytest_cache .mypy_cache .import_linter_cache
