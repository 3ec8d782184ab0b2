# acic: `make demo` sets up and runs the BNN example; `make test` sets up and runs
# every test. Both work from a fresh clone: they create .venv and install into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all setup firmware demo check test bench fuzz generate vectors model clean

all: demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,import,check]'
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
	@echo "--- the same image on the C firmware (its simulated board):"
	$(BIN)/acic run build/bnn_pr.acx --timing-only --engine firmware
	@echo "--- the BNN on generated images, with the functional core models:"
	$(BIN)/python -m aci.demo --images 8
	@echo "--- a trained network on real data: the held-out handwritten digits (acic import, compile, run):"
	$(BIN)/python -m aci.imports.digits --out build/digits

# The static checks (docs/development.md), which .ci/run runs before the tests: the
# Python tree formatted and linted (ruff), the aci package typed (mypy, zero errors;
# the step fails unless mypy reports checking every module of aci/, so a config that
# drops a module cannot pass quietly) and the firmware's C formatted (clang-format,
# the generated headers included).
C_FILES = $(shell find firmware -path firmware/build -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort)

check: setup
	$(BIN)/ruff format --check aci tests bench
	$(BIN)/ruff check aci tests bench
	@modules=$$(find aci -name '*.py' | wc -l); \
	out=$$($(BIN)/mypy aci); status=$$?; echo "$$out"; \
	[ $$status -eq 0 ] || exit 1; \
	echo "$$out" | grep -q " in $$modules source files" || \
		{ echo "make check: mypy did not check the $$modules modules of aci/"; exit 1; }
	$(BIN)/clang-format --dry-run -Werror $(C_FILES)
	@echo "make check: clean"

# The whole test suite and, beside it on the second core, short libFuzzer runs: the
# firmware (validate-then-run on the simulated board; issue 6) for half of
# FUZZ_TEST_SECONDS, then the board daemon's message handling (sessions of requests,
# seeded with the daemon tests' own; issue 14) for the other half. Any of them
# failing fails `make test`; a crashing input is copied to tests/regression/, which
# the suite replays from then on. The fuzzers' output: build/fuzz-test.log and
# build/fuzz-daemon-test.log.
FUZZ_TEST_SECONDS ?= 60
FUZZ_HALF = $(shell expr $(FUZZ_TEST_SECONDS) / 2)

test: setup firmware
	$(MAKE) -s -C firmware fuzz-build fuzz-daemon-build
	@mkdir -p build
	@( $(MAKE) -s -C firmware fuzz FUZZ_SECONDS=$(FUZZ_HALF) > build/fuzz-test.log 2>&1 && \
	   $(MAKE) -s -C firmware fuzz-daemon FUZZ_SECONDS=$(FUZZ_HALF) > build/fuzz-daemon-test.log 2>&1 ) & fuzz=$$!; \
	$(BIN)/python -m pytest; tests=$$?; \
	wait $$fuzz; fuzzed=$$?; \
	echo "--- fuzzing the firmware, then the board daemon, $(FUZZ_HALF) s each (build/fuzz-test.log, build/fuzz-daemon-test.log):"; \
	grep -hE "stat::number_of_executed_units|stat::peak_rss_mb" build/fuzz-test.log build/fuzz-daemon-test.log || true; \
	if [ $$fuzzed -ne 0 ]; then echo "FUZZING FAILED:"; tail -n 40 build/fuzz-test.log build/fuzz-daemon-test.log; fi; \
	[ $$tests -eq 0 ] && [ $$fuzzed -eq 0 ]

# Every benchmark; rewrites BENCHMARKS.md and the plots in docs/img.
bench: setup firmware
	$(BIN)/python bench/run_all.py

# The binarized digits network (models/digits.npz), trained again from scratch with
# numpy; one BLAS thread so that every run writes the same arrays (about 15 minutes).
model: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python models/train_digits.py -o models/digits.npz

fuzz: setup firmware
	$(MAKE) -C firmware fuzz fuzz-daemon

# Files derived from aci/format.py (the C header, the tables of docs/format.md), from
# aci/protocol.py (firmware/include/aci_protocol.h, the tables of docs/protocol.md) and
# the conformance vectors; tests fail when any is stale.
generate: setup
	$(BIN)/python -m aci._generate
	$(BIN)/python tests/conformance/make_vectors.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache
