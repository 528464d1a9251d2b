# propgrade: two entry points, each sets up what it needs first.
#   make grade   grade the bundled sample submissions into out/ (report: out/report.html, out/summary.csv)
#   make test    run the test suite (what CI runs)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch; only installed where the environment has no torch at all,
# so an existing (CUDA) torch is left alone. Elsewhere: TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
JOBS ?= 2
export OMP_NUM_THREADS = 1
export MKL_NUM_THREADS = 1

.PHONY: install warm setup grade test clean

$(BIN)/propgrade: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --disable-pip-version-check -q $(TORCH_SPEC)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[test]"
	touch $@

install: $(BIN)/propgrade

# Grade the reference solution once per profile later runs use (default: grade and check; ci: make grade), so
# that cold runs replay what it learned (grader/store.py; kept in ~/.cache/propgrade or $$PROPGRADE_STORE).
warm: install
	$(BIN)/propgrade warm --profile default --profile ci

setup: install warm

grade: setup
	$(BIN)/propgrade grade submissions/correct submissions/buggy --out out -j $(JOBS) --profile ci

test: install
	$(BIN)/python -m pytest -n $(JOBS) -q

clean:
	rm -rf $(VENV) out
