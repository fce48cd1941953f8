# One virtual environment for everything; torch==2.13.0 goes in first so the
# project's `torch>=2.4` requirement never pulls a multi-GB CUDA build.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: chat run test check lint bench image clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "need Python 3.11 or newer (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

chat: $(STAMP)
	$(PY) -m bot chat $(ARGS)

run: $(STAMP)
	$(PY) -m bot run $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)  # lint, format and types; the same pinned tools as CI
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test  # the whole check: what .ci/run and the README run

bench: $(STAMP)  # tables in bench/RESULTS.md; the engine rows take ~15 min on a 2-core CPU
	$(PY) bench/safety_eval.py
	$(PY) bench/products.py
	$(PY) bench/engine.py --device cpu --model gpt2

image:  # the container image (CPU torch; see README "Deployment" for a CUDA build)
	docker build -t gpt2bot .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
