# One venv, pinned dependencies from the committed lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve demo test lint typecheck unit browser bench loadtest soak bench-pool clean lock

$(STAMP): requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/gemini-proxy serve --config config/proxy.example.yaml

demo: $(STAMP)
	$(BIN)/gemini-proxy demo

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -m "not browser" tests/unit

# The dashboard in headless Chromium (/usr/bin/chromium; .ci/run installs it).
browser: $(STAMP)
	$(BIN)/pytest -q -m browser tests/browser

# Everything CI runs.
test: lint typecheck
	$(BIN)/pytest -q

# The benchmarks, bounded, loopback only (about 7 minutes on 2 cores): passthrough and
# OpenAI against a bare aiohttp relay and the fake upstream, pinned (relay and proxy on a
# CPU of their own; needs 2 CPUs and taskset) and with all processes sharing the CPUs;
# key picks at 100 to 10,000 keys; a 10,000-key pool (flush cost, flushing vs p99,
# /metrics and admin list).
bench: $(STAMP)
	$(BIN)/python -m tests.performance.bench --pin --out bench-results/bench.json
	$(BIN)/python -m tests.performance.bench --out bench-results/bench-shared-cpus.json
	$(BIN)/python -m tests.performance.bench_scheduler
	$(BIN)/python -m tests.performance.bench_pool

# Bounded load test over loopback; options after ARGS, e.g.
#   make loadtest ARGS="--workload all --faults mix --compare-direct --json bench-results/load.json"
loadtest: $(STAMP)
	$(BIN)/python -m tests.performance.load_test $(ARGS)

# 200,000 requests with the fault mix (about ten minutes); RSS, descriptors, state flush.
soak: $(STAMP)
	$(BIN)/python -m tests.performance.soak $(ARGS)

# Figures for a pool of 10,000 keys: pick cost, snapshot/flush cost, flushing vs p99.
bench-pool: $(STAMP)
	$(BIN)/python -m tests.performance.bench_pool $(ARGS)

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements/dev.lock --python-version 3.11
	$(BIN)/uv pip compile pyproject.toml -o requirements/runtime.lock --python-version 3.11

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
