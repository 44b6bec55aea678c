# The two set-up commands the README names: `make demo` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
# Three pytest workers: most tests wait on real servers (Prometheus, PostgreSQL, exporters), so
# they overlap well even on two CPUs. `make test PYTEST_ARGS=` runs them one at a time.
PYTEST_ARGS ?= -n 3

.PHONY: demo test lint typecheck pytest tools bench bench-full dashboards clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,test]'
	touch $(STAMP)

## demo: run the exporter and a simulated fleet on loopback (SQLite), with Prometheus when present
demo: $(STAMP)
	$(VENV)/bin/heartbeat demo $(DEMO_ARGS)

## test: install everything the tests need, then lint, type-check and run the suite
test: $(STAMP) tools lint typecheck pytest

tools:
	bash scripts/install-tools.sh test

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## bench: quick benchmarks (installs wrk and the Pushgateway); bench-full: the long runs
bench: $(STAMP)
	bash scripts/install-tools.sh bench
	$(PY) -m bench $(BENCH_ARGS)

bench-full: $(STAMP)
	bash scripts/install-tools.sh bench
	$(PY) -m bench --full $(BENCH_ARGS)

## dashboards: regenerate grafana/dashboards/*.json from grafana/dashboards.py
dashboards: $(STAMP)
	$(PY) -m grafana.generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
