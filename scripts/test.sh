#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system libraries, .venv, lint (ruff, import-linter,
# mypy), then pytest under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh
export OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=xcb
.venv/bin/ruff check flowscope tests bench
.venv/bin/lint-imports  # the layering contracts in pyproject.toml (ARCHITECTURE.md)
.venv/bin/mypy  # the Qt-free layers: core, train, state (pyproject.toml [tool.mypy])
# One tier: `-m core` (no Qt, no display: runs without Xvfb), `-m gui`, `-m slow`, `-m "not slow"`.
if [ "${1:-}" = "-m" ] && [ "${2:-}" = "core" ]; then
  exec .venv/bin/python -m pytest -q "$@"
fi
exec xvfb-run -a -s "-screen 0 1280x1024x24 +extension GLX +render -noreset" \
  .venv/bin/python -m pytest -q "$@"
