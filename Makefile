# The README's commands. `make demo` needs no cloud account and no server; `make test`
# installs everything the tests need, starts the real servers, runs every suite, stops them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: help uv install demo test lint typecheck unit bench clean

help:
	@echo "make demo   run the main job on the embedded default (no account, no server)"
	@echo "make test   install, start the test servers, run lint, types and all tests"
	@echo "make bench  run the benchmarks and write benchmarks/results/"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: uv
	$(UV) sync --all-packages --all-extras --python python3

# Only what the demo runs: portacloud, its conformance suite and numpy; no cloud SDKs, Ray,
# emulators or dev tools. --inexact leaves a full `make install` environment as it is.
demo: uv
	$(UV) sync --inexact --no-default-groups --group demo --python python3
	$(UV) run --no-sync python examples/demo.py

lint: install
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync portacloud catalog lint

typecheck: install
	$(UV) run --no-sync mypy sdk/src conformance/src $(wildcard providers/*/src) examples/dict_provider/src

test: lint typecheck
	UV="$(UV)" bash scripts/test.sh

bench: install
	UV="$(UV)" bash scripts/bench.sh

clean:
	bash scripts/services.sh stop
	rm -rf .lab reports .demo
