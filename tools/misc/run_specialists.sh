#!/usr/bin/env bash
# Train and test the specialist baselines of configs/baselines/ with the standard tools, each into
# OUT_DIR/<name>/ (test metrics in OUT_DIR/<name>/test_metrics.json for compare_baselines.py).
# Usage: bash tools/misc/run_specialists.sh OUT_DIR [extra tools/train.py args...]
set -euo pipefail
OUT_DIR=${1:?usage: run_specialists.sh OUT_DIR [train args...]}
shift
PY=${PY:-.venv/bin/python}
declare -A CONFIGS=(
    [dino_det]=configs/baselines/dino_tiny_shapesworld_det.py
    [dino_seg]=configs/baselines/dino_tiny_shapesworld_seg.py
    [pose]=configs/baselines/pose_tiny_specialist_shapesworld.py
)
for name in dino_det dino_seg pose; do
    work_dir="$OUT_DIR/$name"
    "$PY" tools/train.py "${CONFIGS[$name]}" --work-dir "$work_dir" "$@"
    "$PY" tools/test.py "${CONFIGS[$name]}" "$(cat "$work_dir/last_checkpoint")" --work-dir "$work_dir"
done
