# xinyu: two commands set up a fresh machine.
#   make demo   installs into .venv, then builds a counselor on the embedded default model
#   make test   installs into .venv, then runs the test suite (fast tier)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all,dev
STAMP := $(VENV)/.xinyu-installed

.PHONY: install demo test test-slow bench lint browser clean help

help:
	@echo "make demo | make test | make test-slow | make bench | make lint"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip wheel setuptools
	# torch first and explicitly: a bare `torch` dependency would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install "$(TORCH_SPEC)"
	# llama-cpp-python compiles from source (a few minutes, cached by pip afterwards).
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the web-page and report-rendering tests (Debian package, root only).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: chromium not found; browser tests will be skipped"; fi; }

demo: install
	$(BIN)/xinyu demo

test: install browser
	$(BIN)/python -m pytest

test-slow: install browser
	$(BIN)/python -m pytest -m slow

bench: install
	$(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
