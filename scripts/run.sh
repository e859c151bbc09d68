#!/usr/bin/env bash
# Set up (first time only) and start flowscope. Extra arguments go to `flowscope`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if .venv/bin/python -c "import flowscope.app" 2>/dev/null; then
  if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    bash scripts/system-deps.sh
    exec xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX +render -noreset" .venv/bin/flowscope "$@"
  fi
  exec .venv/bin/flowscope "$@"
fi
# no desktop app in this version yet: a CLI demo (train, then draw samples to a picture)
.venv/bin/flowscope train --data checkerboard --steps 3000 --out runs/checkerboard
.venv/bin/flowscope sample --model runs/checkerboard --n 20000 --out runs/checkerboard/samples.png
echo "samples drawn to runs/checkerboard/samples.png"
