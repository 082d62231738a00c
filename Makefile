# Two commands: `make run` starts the app on the synthetic demo cohort, `make test` runs every
# test. Both create .venv and install the pinned requirements first (once; again when a
# requirements file changes). Runtime pins live in requirements.txt; test-only pins
# (pytest, Hypothesis, Playwright, ruff, mypy, cross-check libraries) in requirements-dev.txt,
# installed by `make test` only.

PYTHON   ?= $(shell command -v python3.11 || command -v python3)
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
DEVSTAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
PORT     ?= 8501

.PHONY: run test setup demo-data bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-[0-9a-f]*
	touch $(STAMP)

$(DEVSTAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-*
	touch $(DEVSTAMP)

setup: $(DEVSTAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: $(DEVSTAMP)
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest

demo-data: $(STAMP)
	$(PY) -m core.demo
	$(PY) -m core.ingest

bench: $(DEVSTAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
