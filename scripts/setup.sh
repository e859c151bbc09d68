#!/usr/bin/env bash
# One-time (idempotent) set-up: a virtual environment in .venv with flowscope and its extras.
# torch is pinned to 2.13.0 first: on these machines that is a local CPU wheel, and any looser
# requirement would download a multi-GB CUDA build (shared/design/PITFALLS.md item 3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.flowscope-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[gui,onnx,video,test]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import flowscope, torch, safetensors" && touch "$stamp"
fi
