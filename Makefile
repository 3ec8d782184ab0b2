# acic: `make demo` sets up and runs the BNN example; `make test` sets up and runs
# every test. Both work from a fresh clone: they create .venv and install into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all setup firmware demo test bench fuzz generate vectors clean

all: demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

setup: $(STAMP)

# The C firmware's host simulator (and its sanitizer build); installs gcc if missing.
firmware: setup
	$(MAKE) -C firmware

demo: setup firmware
	mkdir -p build
	$(BIN)/acic check programs/bnn_static.aci programs/bnn_pr.aci programs/examples/*.aci
	$(BIN)/acic compile programs/bnn_pr.aci -D BATCH=25 --mode dataflow -o build/bnn_pr.acx
	@echo "--- the seed's 10,000-image run, 25 images per batch, timing only:"
	$(BIN)/acic run build/bnn_pr.acx --timing-only
	@echo "--- the BNN on generated images, with the functional core models:"
	$(BIN)/python -m aci.demo --images 8

test: setup firmware
	$(BIN)/python -m pytest

# Every benchmark; rewrites BENCHMARKS.md and the plots in docs/img.
bench: setup firmware
	$(BIN)/python bench/run_all.py

fuzz: setup
	$(MAKE) -C firmware fuzz

# Files derived from aci/format.py (the C header, the tables of docs/format.md) and
# the conformance vectors; tests fail when any is stale.
generate: setup
	$(BIN)/python -m aci._generate
	$(BIN)/python tests/conformance/make_vectors.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
