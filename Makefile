# SRE Copilot — two commands from a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13 on arm64, and so do the tests and the embedded backend when the machine has
# it (pyenv installs included); the code stays 3.12-compatible (ruff and mypy check it as 3.12).
PYTHON ?= $(shell for p in python3.13 $$(ls -d /root/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null) python3.12 $$(ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null); do \
	$$p -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BENCH_REPLAY_ALERTS ?= 5000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# `make demo` needs only the runtime and the embedded backend (moto); `make test` adds the dev tools.
DEMO_STAMP := $(VENV)/.demo-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
NPM_STAMP := node_modules/.installed-$(shell cat package-lock.json 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: help setup demo test test-fast lint bench synth clean

help:
	@echo "make demo   replay the bundled incident end to end on the embedded backend"
	@echo "make test   run every test (unit, conformance, property, replay, infrastructure)"
	@echo "make bench  benchmarks: normalise cost, correlation throughput and baseline, retrieval, RCA,"
	@echo "            anomaly detection and forecasts, storm replay, cold start, size and memory per"
	@echo "            function, cost model against the synthesized template"
	@echo "make lint   ruff and mypy"
	@echo "make synth  npx cdk synth of the dev and prod stages (no AWS credentials or Docker needed)"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12+ not found; install python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12+ not found; install python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -e $(STAMP) || { $(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip && \
		$(BIN)/pip install --quiet --disable-pip-version-check -e '.[local]'; }
	@rm -f $(VENV)/.demo-*; touch $(DEMO_STAMP)

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-*; touch $(NPM_STAMP)

setup: $(STAMP) $(NPM_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/sre-copilot demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not infra and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Every benchmark runs even when an earlier one misses its target; the target fails at the end,
# naming each one that missed.
BENCHMARKS = bench_normalize.py bench_correlation.py bench_retrieval.py bench_rca.py bench_anomaly.py \
	"bench_replay.py --alerts $(BENCH_REPLAY_ALERTS) --breakdown" \
	"bench_replay.py --alerts $(BENCH_REPLAY_ALERTS) --backend memory --breakdown" \
	"bench_forge.py --backend memory" bench_cold_start.py "bench_memory.py --storm 1000" check_cost_model.py

bench: $(STAMP)
	@missed=""; for bench in $(BENCHMARKS); do \
		echo "$(BIN)/python benchmarks/$$bench"; \
		$(BIN)/python benchmarks/$$bench || missed="$$missed\n  $$bench"; \
	done; \
	if [ -n "$$missed" ]; then printf "missed its target or failed:$$missed\n"; exit 1; fi

synth: setup
	for stage in dev prod; do npx cdk synth --quiet -c stage=$$stage -o cdk.out/$$stage || exit 1; done

clean:
	rm -rf cdk.out .sre-copilot .pytest_cache .mypy_cache .ruff_cache
