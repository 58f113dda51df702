# Two commands from a fresh clone:  make reproduce   and   make test
# Both create .venv if missing, install the package, and make sure Fashion-MNIST is present.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.aq4svit-installed
PROFILE ?= default
# pytest-xdist processes, one torch thread each (tests/conftest.py)
TEST_WORKERS ?= 2

.PHONY: setup data browser reproduce reproduce-extended check claims test lint bench clean-results notebooks help

help:
	@echo "make reproduce   run every notebook on the embedded default (profile=$(PROFILE)); figures/ and figures/tables/"
	@echo "make check       recompute every claim from the gallery's tables and compare with figures/claims.json"
	@echo "make reproduce-extended   also the seed study and the long reference run (outside the default time)"
	@echo "make claims      after a reproduction: write figures/claims.json and render REPRODUCTION.md / README sections"
	@echo "make test        run the test suite"
	@echo "make lint        ruff check and mypy"
	@echo "make notebooks   sync each notebook with its jupytext .py pair after an edit"
	@echo "make bench       run the benchmark scripts (writes benchmarks/RESULTS.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

data: setup
	@bash scripts/ensure_data.sh $(BIN)/aq4svit

reproduce: data
	$(BIN)/aq4svit reproduce --profile $(PROFILE)
	@if [ "$(PROFILE)" = default ]; then $(BIN)/python scripts/update_gallery.py; fi

reproduce-extended: data
	$(BIN)/aq4svit reproduce --profile $(PROFILE) --extended
	@if [ "$(PROFILE)" = default ]; then $(BIN)/python scripts/update_gallery.py; fi

# RESULTS: a figures folder of another run (default: the gallery in figures/)
check: setup
	$(BIN)/aq4svit check $(if $(RESULTS),--results $(RESULTS))

claims: setup
	$(BIN)/aq4svit claims --write --render

# browser: Chromium + driver for tests/test_browser.py (apt as root)
browser:
	@bash scripts/ensure_browser.sh

test: data browser
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: data
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_evaluator.py
	$(BIN)/python benchmarks/bench_search.py

# after editing a notebook or its .py pair outside JupyterLab: bring the other one up to date (newest wins)
notebooks: setup
	$(BIN)/jupytext --sync notebooks/*.ipynb

clean-results:
	rm -rf results/
