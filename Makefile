PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
AUTOTERM_DATA_DIRS ?= $(abspath ../shared/datasets)
export AUTOTERM_DATA_DIRS
AUTOTERM_PAPER_RUNS ?= $(abspath ../shared/paper-runs)
export AUTOTERM_PAPER_RUNS
PROFILE  ?= laptop
LAUNCHER ?=
JOBS     ?=
ARGS     ?=

.PHONY: install test test-all lint format clean bench bench-replay check-reliability reproduce

## install: create .venv and install autoterm with everything the tests need
install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# torch first and pinned: any other spec resolves to a multi-GB CUDA build
	$(BIN)/pip install "torch>=2.13,<2.14"
	$(BIN)/pip install -e ".[dev]"

## test: the default (fast) test suite
test:
	$(BIN)/pytest -q -n 2

test-all:
	$(BIN)/pytest -q -n 2 -m ""

## bench: foundation timings (one evaluation per model on adult, the BO step at 15/100 points),
## P2 optimiser overhead against Optuna (needs the bench extra: pip install -e ".[bench]"),
## P4 batched MLP folds, P5 `reproduce smoke` in a fresh directory (minutes, peak memory),
## then the four lines of issue 6 (P3: make bench-replay)
bench:
	$(BIN)/python bench/foundation.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/mlp_folds.py
	$(BIN)/python bench/reproduce_bench.py --profile smoke
	$(BIN)/python bench/summary.py

## bench-replay: replay time of every rule on the authors' 80 runs
bench-replay:
	$(BIN)/python bench/replay_bench.py

## check-reliability: SIGKILL/resume, lock, timeout, corrupt files and bad inputs on real runs
check-reliability:
	$(BIN)/python bench/check_reliability.py

## reproduce: PROFILE=smoke|laptop|paper|paper-replay (default laptop): runs (or the authors'
## runs), replay, report and figures under results/$(PROFILE)/; LAUNCHER=joblib|submitit_local|
## submitit_slurm|slurm, JOBS=N, ARGS='key=value ...' are passed on to `autoterm reproduce`
reproduce:
	$(BIN)/autoterm reproduce $(PROFILE) $(if $(LAUNCHER),--launcher $(LAUNCHER)) \
		$(if $(JOBS),--jobs $(JOBS)) $(ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache
