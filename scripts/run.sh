#!/usr/bin/env bash
# Set up (first time only) and start the flowscope desktop app. Extra arguments go to `flowscope`
# (e.g. `--images`, or `--demo two_moons --train-steps 1500 --t 0.85 --screenshot out.png`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  # no display (a server, CI): the same app under a virtual X server (PITFALLS.md item 5)
  bash scripts/system-deps.sh
  exec xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX +render -noreset" .venv/bin/flowscope "$@"
fi
exec .venv/bin/flowscope "$@"
