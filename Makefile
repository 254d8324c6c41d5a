# mmvisionllm — one-command set-up, tests and the main job. See README.md.
PYTHON ?= python3.11
VENV ?= .venv
# Set USE_PYTHON=/path/to/python to install into an existing interpreter (e.g. one with a CUDA torch).
USE_PYTHON ?=
PY := $(if $(USE_PYTHON),$(USE_PYTHON),$(VENV)/bin/python)
TORCH_SPEC ?= torch==2.13.0
# A directory with a prebuilt mmcv 2.1.0 wheel; used only if its compiled ops load with the installed torch.
MMCV_FIND_LINKS ?= $(wildcard ../shared/wheels/torch2.13.0-cpu-cp311)
PYTEST_ARGS ?=
DATA_ROOT ?= data/shapesworld
WORK_DIR ?= work_dirs/demo

export PYTHON VENV USE_PYTHON TORCH_SPEC MMCV_FIND_LINKS

.PHONY: install test test-all lint clean-venv

install:
	bash tools/misc/install_env.sh

# Fast suite (< ~15 min on 2 cores). `make test-all` adds the tests marked slow.
test: install
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest tests $(PYTEST_ARGS)

lint: install
	$(PY) -m flake8 mmvisionllm tools tests configs projects
	$(PY) -m isort --check-only --diff mmvisionllm tools tests configs projects

clean-venv:
	rm -rf $(VENV)
