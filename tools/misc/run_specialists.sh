#!/usr/bin/env bash
# Train and test specialist baselines with the standard tools, each into OUT_DIR/<name>/ (test
# metrics in OUT_DIR/<name>/test_metrics.json for compare_baselines.py).
# Usage: bash tools/misc/run_specialists.sh OUT_DIR NAME=CONFIG [NAME=CONFIG ...] [-- train args...]
# Without NAME=CONFIG pairs: the full-schedule baselines of configs/baselines/.
set -euo pipefail
OUT_DIR=${1:?usage: run_specialists.sh OUT_DIR [NAME=CONFIG ...] [-- train args...]}
shift
PY=${PY:-.venv/bin/python}
specs=()
while [[ $# -gt 0 && "$1" != "--" ]]; do
    specs+=("$1")
    shift
done
[[ "${1:-}" == "--" ]] && shift
if [[ ${#specs[@]} -eq 0 ]]; then
    specs=(dino_det=configs/baselines/dino_tiny_shapesworld_det.py
           dino_seg=configs/baselines/dino_tiny_shapesworld_seg.py
           pose=configs/baselines/pose_tiny_specialist_shapesworld.py)
fi
for spec in "${specs[@]}"; do
    name=${spec%%=*}
    config=${spec#*=}
    [[ -f "$config" ]] || { echo "run_specialists.sh: config $config ($name) not found" >&2; exit 1; }
    work_dir="$OUT_DIR/$name"
    "$PY" tools/train.py "$config" --work-dir "$work_dir" "$@"
    "$PY" tools/test.py "$config" "$(cat "$work_dir/last_checkpoint")" --work-dir "$work_dir"
done
