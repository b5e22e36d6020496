# Threads on Dramatiq: `make run` runs the whole system, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Test processes (pytest-xdist; 0 runs in this one). Most of the suite waits on the workers, daemons and
# servers it starts, so two processes keep a 2-core machine busy; a module always runs whole on one.
TEST_WORKERS ?= 2

.PHONY: deps run test lint bench clean

# (Re)create and install the venv when it is missing or pyproject.toml changed; install the dashboard's
# chart library (pinned in ops/vendor/package-lock.json, integrity-checked by npm ci) into its static files.
VENDOR := ops/static/compat_ops/vendor/MANIFEST.json
deps: $(STAMP) $(VENDOR)

$(VENDOR): ops/vendor/package-lock.json ops/vendor/install.py
	$(PYTHON) ops/vendor/install.py

$(STAMP): pyproject.toml runtime/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./runtime -e '.[test]'
	@touch $(STAMP)

# Bytecode caching on for run and test even where PYTHONDONTWRITEBYTECODE is set: otherwise every worker,
# web and scheduler process recompiles the project's sources at each start (~90 ms and ~1.3 MB of RSS
# per worker), and pytest re-rewrites every test module's asserts, each time (__pycache__/ is ignored
# by git). `make bench` compiles before it measures (bench/env.py, compile_bytecode).
run: $(STAMP) $(VENDOR)
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m threads.launch

test: $(STAMP) $(VENDOR)
	env -u PYTHONDONTWRITEBYTECODE $(PY) bin/with-redis --dir var/test-redis -- $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# compat against stock Dramatiq, Dramatiq + Results, Huey, taskiq and Celery (bench/README.md); the peers
# come with `make deps`. BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS=--quick`.
bench: $(STAMP)
	@if [ -f bench/__main__.py ] || [ -f bench/__init__.py ]; then $(PY) -m bench $(BENCH_ARGS); \
	else echo "bench: no benchmarks yet (bench/__main__.py does not exist)"; fi

clean:
	rm -rf var/ .pytest_cache .ruff_cache
