#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system libraries, .venv, lint (ruff, import-linter,
# mypy), then pytest under Xvfb, in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh
export OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=xcb
.venv/bin/ruff check flowscope tests bench
.venv/bin/lint-imports  # the layering contracts in pyproject.toml (ARCHITECTURE.md)
.venv/bin/mypy  # the Qt-free layers: core, train, state (pyproject.toml [tool.mypy])
# In parallel: one pytest worker per core (at most 4; pytest-xdist), a test file per worker at a
# time, and every worker on an Xvfb of its own (pytest-xvfb, pyproject.toml). `-n 0` after the
# command runs them in this process. The tests wait on readiness, never on time budgets, so they
# pass with the other worker loading the machine (shared/design/PITFALLS.md).
PAR=(-n auto --maxprocesses 4 --dist loadfile)
# One tier: `-m core` (no Qt, no display: runs without Xvfb), `-m gui`, `-m slow`, `-m "not slow"`.
if [ "${1:-}" = "-m" ] && [ "${2:-}" = "core" ]; then
  exec .venv/bin/python -m pytest -q "${PAR[@]}" --no-xvfb "$@"
fi
exec .venv/bin/python -m pytest -q "${PAR[@]}" "$@"
