# The two entry points of the README. Both create ./.venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $@ $(VENV)/.runtime

# Protect the built-in demo video (a real face photo, animated, with a 72 bpm pulse).
demo: $(VENV)/.runtime
	mkdir -p out
	$(BIN)/vcam-run --source demo --width 1280 --height 720 --sink out/demo.mp4 --filter blur --frames 450 --json out/demo.json

test: $(VENV)/.dev
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) out .pytest_cache
