#!/usr/bin/env bash
# Installs what the web chat (demo/webui.py) and its browser test need: requirements/demo.txt
# (gradio, playwright's Python package, scikit-image's sample photos) and Debian's chromium +
# chromium-driver (the browser Playwright drives through executable_path=/usr/bin/chromium;
# Playwright's own browser download is never used). Idempotent; `make install` calls it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [[ -n "${USE_PYTHON:-}" ]]; then PY="$USE_PYTHON"; else PY="${VENV:-.venv}/bin/python"; fi
die() { printf '\nmake install-webui FAILED at step: %s\n' "$*" >&2; exit 1; }

printf '\n==> web chat requirements (requirements/demo.txt)\n'
"$PY" "$ROOT/tools/misc/check_requirements.py" "$ROOT/requirements/demo.txt" >/dev/null 2>&1 \
    || "$PY" -m pip install --disable-pip-version-check -c "$ROOT/requirements/constraints.txt" \
        -r "$ROOT/requirements/demo.txt" || die "pip install -r requirements/demo.txt"

printf '\n==> chromium for the browser test (Debian packages)\n'
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "chromium $(/usr/bin/chromium --version 2>/dev/null | head -1) already installed"
elif command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q chromium chromium-driver \
        || die "apt-get install chromium chromium-driver"
else
    # not fatal: everything but the browser test (make test-all) works without it
    echo "WARNING: chromium missing and not root: the browser test needs" \
        "'apt-get install chromium chromium-driver'" >&2
fi
