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
# every ShapesWorld path of the configs reads this variable (mmengine's {{$VAR:default}})
export SHAPESWORLD_ROOT ?= $(DATA_ROOT)/
WORK_DIR ?= work_dirs/demo
# what `make lint` checks (projects/ holds out-of-tree plugins when there are any)
LINT_PATHS := $(wildcard setup.py mmvisionllm tools tests configs projects demo)

DEMO_CONFIG ?= configs/visionllmv2/visionllmv2_tiny_shapesworld.py
# stage 0 of the demo: the tiny CLIP tower learns from the training captions (the stand-in for the
# real build's pretrained CLIP); stage 1: the text tasks alone, from stage 0's tower; stage 2
# (DEMO_CONFIG): every task, from stage 1's last checkpoint
DEMO_VISION_CONFIG ?= configs/visionllmv2/visionllmv2_tiny_shapesworld_vision_pretrain.py
DEMO_WARMUP_CONFIG ?= configs/visionllmv2/visionllmv2_tiny_shapesworld_text_warmup.py
BENCH_DIR ?= work_dirs/benchmark
# the specialists on the demo generalist's schedule (name=config, see configs/baselines/demo_schedule)
BENCH_SPECIALISTS ?= dino_det=configs/baselines/demo_schedule/dino_tiny_shapesworld_det_demo.py \
	dino_seg=configs/baselines/demo_schedule/dino_tiny_shapesworld_seg_demo.py \
	pose=configs/baselines/demo_schedule/pose_tiny_specialist_shapesworld_demo.py
# e.g. DEMO_TRAIN_ARGS="--cfg-options train_cfg.max_iters=4" for a smoke run
DEMO_TRAIN_ARGS ?=
DEMO_TEST_ARGS ?=
# ShapesWorld size of the demo (regenerated only when these change: generate_shapesworld.py --reuse)
SW_ARGS ?= --seed 0 --num-train 2000 --num-val 200 --img-size 128

export PYTHON VENV USE_PYTHON TORCH_SPEC MMCV_FIND_LINKS

.PHONY: install install-webui webui test test-all lint clean-venv data demo benchmark geneval \
	paper-tables

install:
	bash tools/misc/install_env.sh
	bash tools/misc/install_webui.sh

# gradio, playwright and Debian's chromium for the web chat and its browser test (part of install)
install-webui:
	bash tools/misc/install_webui.sh

# The web chat on 127.0.0.1:7860 with the demo's checkpoint ($(WORK_DIR)/last_checkpoint) if any;
# e.g. WEBUI_ARGS="--host 0.0.0.0 --port 8080"
WEBUI_ARGS ?=
webui: install-webui
	$(PY) demo/webui.py $(DEMO_CONFIG) $(WEBUI_ARGS) \
		$$( [ -f $(WORK_DIR)/last_checkpoint ] && echo --weights "$$(cat $(WORK_DIR)/last_checkpoint)")

# the core's tests and those of the example plugins (projects/<name>/tests)
TEST_PATHS := tests $(wildcard projects/*/tests)

# Fast suite (< ~15 min on 2 cores). `make test-all` adds the tests marked slow.
test: install
	$(PY) -m pytest $(TEST_PATHS) -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest $(TEST_PATHS) $(PYTEST_ARGS)

lint: install
	$(PY) -m flake8 $(LINT_PATHS)
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --diff --recursive --parallel $(LINT_PATHS)

data: install
	$(PY) tools/misc/generate_shapesworld.py --out-dir $(DATA_ROOT) $(SW_ARGS) --reuse

# The main job: train the tiny generalist on every ShapesWorld task (text warm-up, then every task),
# test it with mmdet/mmpose/our metrics, write the table, the prediction grids and a free-running
# chat transcript to $(WORK_DIR).
demo: data
	$(PY) tools/train.py $(DEMO_VISION_CONFIG) --work-dir $(WORK_DIR)/vision_pretrain $(DEMO_TRAIN_ARGS)
	$(PY) tools/train.py $(DEMO_WARMUP_CONFIG) --work-dir $(WORK_DIR)/text_warmup $(DEMO_TRAIN_ARGS) \
		--cfg-options load_from="$$(cat $(WORK_DIR)/vision_pretrain/last_checkpoint)"
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(WORK_DIR) $(DEMO_TRAIN_ARGS) \
		--cfg-options load_from="$$(cat $(WORK_DIR)/text_warmup/last_checkpoint)"
	$(PY) tools/test.py $(DEMO_CONFIG) "$$(cat $(WORK_DIR)/last_checkpoint)" --work-dir $(WORK_DIR) \
		$(DEMO_TEST_ARGS)
	$(PY) tools/analysis_tools/demo_report.py $(DEMO_CONFIG) "$$(cat $(WORK_DIR)/last_checkpoint)" \
		--work-dir $(WORK_DIR)

# The demo plus the specialists (same data, backbone sizes and schedule) and the side-by-side table.
benchmark: demo
	bash tools/misc/run_specialists.sh $(BENCH_DIR) $(BENCH_SPECIALISTS)
	$(PY) tools/analysis_tools/compare_baselines.py --generalist $(WORK_DIR) \
		--specialist det=$(BENCH_DIR)/dino_det --specialist seg=$(BENCH_DIR)/dino_seg \
		--specialist pose=$(BENCH_DIR)/pose --out $(WORK_DIR)/benchmark.md

# The paper's protocol at tiny scale (tools/analysis_tools/paper_tables.py): specialists first, the
# generalist started from them and from the demo's text stages, the N = 1/4/8 query ablation and
# the multi-task conflict runs, over three seeds; writes $(PAPER_DIR)/paper_tables.md. Finished runs
# are reused. PAPER_TABLES_ARGS="--quick" is the smoke test, e.g. "--seeds 0 1 2 3 --jobs 1".
PAPER_DIR ?= work_dirs/paper_tables
PAPER_TABLES_ARGS ?=
paper-tables: data
	$(PY) tools/analysis_tools/paper_tables.py --out-dir $(PAPER_DIR) --text-stages $(WORK_DIR) \
		$(PAPER_TABLES_ARGS)

# Generation and editing scored GenEval-style (~1.5 h on 2 cores): train the
# ShapesWorld DINO judge (skipped when its checkpoint exists), then the tiny [GEN] and [EDIT] models;
# their val scores sit beside the real / mismatched images and the unedited sources.
JUDGE_DIR := work_dirs/dino_tiny_shapesworld_det
GENEVAL_DIR ?= work_dirs/geneval
GEN_GRID_PROMPTS ?= "Please generate an image of a small blue square above a large purple triangle." \
	"Please generate an image of a small green cross." "Please generate an image of a small red star." \
	"Please generate an image of a large yellow square above a small green triangle." \
	"Please generate an image of a small purple circle." \
	"Please generate an image of a small green circle above a large blue triangle."
geneval: data
	[ -f $(JUDGE_DIR)/epoch_12.pth ] || $(PY) tools/train.py configs/baselines/dino_tiny_shapesworld_det.py \
		--work-dir $(JUDGE_DIR)
	for task in gen edit; do \
		config=configs/visionllmv2/visionllmv2_tiny_$${task}_shapesworld.py; \
		$(PY) tools/train.py $$config --work-dir $(GENEVAL_DIR)/$$task && \
		$(PY) tools/test.py $$config "$$(cat $(GENEVAL_DIR)/$$task/last_checkpoint)" \
			--work-dir $(GENEVAL_DIR)/$$task || exit 1; \
	done
	$(PY) tools/analysis_tools/gen_grid.py configs/visionllmv2/visionllmv2_tiny_gen_shapesworld.py \
		"$$(cat $(GENEVAL_DIR)/gen/last_checkpoint)" --out $(GENEVAL_DIR)/gen_grid.png --columns 3 \
		--prompts $(GEN_GRID_PROMPTS)

clean-venv:
	rm -rf $(VENV)
