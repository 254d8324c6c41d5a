#!/usr/bin/env bash
# Installs a working OpenMMLab + Hugging Face stack and mmvisionllm in editable mode.
#
# Idempotent: every step first checks whether what it installs is already there, so a second run only
# re-checks (seconds). Fails loudly, naming the step, when something cannot be installed.
#
# Environment (all optional; `make install` passes them through):
#   PYTHON           interpreter used to create the virtual environment (default: python3.11)
#   VENV             virtual environment directory (default: .venv)
#   USE_PYTHON       install into this interpreter instead of creating/using $VENV
#   TORCH_SPEC       torch requirement when no torch is installed yet (default: torch==2.13.0);
#                    an already-installed torch (for example a CUDA build) is always kept
#   MMCV_FIND_LINKS  directory with a prebuilt mmcv 2.1.0 wheel for the installed torch; used only when
#                    the wheel's compiled ops load, otherwise mmcv is built from the PyPI source
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
REQ="$ROOT/requirements"
CONSTRAINTS="$REQ/constraints.txt"
MMCV_VERSION="2.1.0"

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nmake install FAILED at step: %s\n' "$*" >&2; exit 1; }

if [[ -n "${USE_PYTHON:-}" ]]; then
    PY="$USE_PYTHON"
else
    VENV="${VENV:-.venv}"
    if [[ ! -x "$VENV/bin/python" ]]; then
        step "creating virtual environment $VENV with ${PYTHON:-python3.11}"
        "${PYTHON:-python3.11}" -m venv "$VENV" || die "python -m venv (is ${PYTHON:-python3.11} installed?)"
    fi
    PY="$VENV/bin/python"
fi
PIP=("$PY" -m pip install --disable-pip-version-check -c "$CONSTRAINTS")
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' || die "Python >= 3.10 required"

satisfied() {  # satisfied FILE...: all requirements in the files are installed at matching versions
    "$PY" "$ROOT/tools/misc/check_requirements.py" "$@" >/dev/null 2>&1
}

step "torch"
if "$PY" -c 'import torch' 2>/dev/null; then
    # torch < 2.6 loads checkpoints with weights_only=False by default (pickled code runs)
    "$PY" -c 'import sys, torch; from packaging.version import Version; sys.exit(Version(torch.__version__.split("+")[0]) < Version("2.6"))' \
        || die "installed torch $("$PY" -c 'import torch; print(torch.__version__)') is older than 2.6; its torch.load runs pickled code from checkpoints: upgrade it (or install with TORCH_SPEC into a fresh environment)"
    echo "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    "${PIP[@]}" "${TORCH_SPEC:-torch==2.13.0}" || die "pip install ${TORCH_SPEC:-torch==2.13.0}"
fi

step "build prerequisites (requirements/build.txt)"
satisfied "$REQ/build.txt" || "${PIP[@]}" -r "$REQ/build.txt" || die "build prerequisites"

step "runtime dependencies (requirements/runtime.txt, requirements/tests.txt)"
satisfied "$REQ/runtime.txt" "$REQ/tests.txt" \
    || "${PIP[@]}" -r "$REQ/runtime.txt" -r "$REQ/tests.txt" || die "runtime dependencies"

step "mmengine 0.10.7 (mmcv imports it)"
"$PY" -c "import mmengine; assert mmengine.__version__ == '0.10.7'" 2>/dev/null \
    || "${PIP[@]}" mmengine==0.10.7 || die "pip install mmengine==0.10.7"

mmcv_ops_ok() {
    "$PY" -c "import mmcv, mmcv._ext; assert mmcv.__version__ == '$MMCV_VERSION', mmcv.__version__" 2>/dev/null
}
step "mmcv $MMCV_VERSION with compiled ops"
if mmcv_ops_ok; then
    echo "mmcv $MMCV_VERSION with compiled ops already installed"
else
    if [[ -n "${MMCV_FIND_LINKS:-}" && -d "${MMCV_FIND_LINKS}" ]]; then
        echo "trying the prebuilt wheel in $MMCV_FIND_LINKS"
        if "${PIP[@]}" --no-deps --no-index --find-links "$MMCV_FIND_LINKS" "mmcv==$MMCV_VERSION" \
                && mmcv_ops_ok; then
            echo "prebuilt mmcv wheel works with this torch"
        else
            echo "the prebuilt wheel does not match this torch; removing it"
            "$PY" -m pip uninstall -y mmcv >/dev/null 2>&1 || true
        fi
    fi
    if ! mmcv_ops_ok; then
        echo "Building mmcv $MMCV_VERSION with compiled ops from source: this takes 30-40 minutes on 2 cores."
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" --no-deps --no-build-isolation "mmcv==$MMCV_VERSION" || die "mmcv source build"
        mmcv_ops_ok || die "mmcv installed but its compiled ops (mmcv._ext) do not import"
    fi
fi

step "mmdet, mmpose (their dependencies are in runtime.txt; mmpose's chumpy does not install)"
satisfied "$REQ/mminstall.txt" \
    || "${PIP[@]}" --no-deps mmdet==3.3.0 mmpose==1.3.2 || die "pip install mmdet mmpose"

step "mmvisionllm (editable)"
if "$PY" -I -c "import mmvisionllm, os, sys; sys.exit(0 if os.path.dirname(os.path.dirname(mmvisionllm.__file__)) == '$ROOT' else 1)" 2>/dev/null; then
    echo "mmvisionllm already installed from $ROOT"
else
    "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT" || die "pip install -e ."
fi

step "checking the stack"
"$PY" "$ROOT/tools/misc/check_requirements.py" "$REQ/build.txt" "$REQ/runtime.txt" "$REQ/tests.txt" \
    "$REQ/mminstall.txt" || die "requirement check"
"$PY" -I -c "import mmcv.ops, mmdet.models, mmpose.models, mmvisionllm; print('stack OK: torch', __import__('torch').__version__)" \
    || die "import check of mmcv.ops, mmdet.models, mmpose.models, mmvisionllm"
