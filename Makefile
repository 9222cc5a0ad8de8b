# Two entry points a new user needs: `make demo` and `make test`. Both build .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	# An editable install compiles bytecode lazily, on first use: compile it now, so the first
	# runs of the command line do not pay for it (and a read-only checkout never does).
	$(BIN)/python -m compileall -q src/portreg
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	./scripts/demo.sh

test: $(STAMP)
	./scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	# wrk drives the server's read benchmark from its own process (a Python fallback exists).
	command -v wrk >/dev/null || (apt-get install -y -qq wrk || sudo apt-get install -y -qq wrk) >/dev/null 2>&1 || true
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
