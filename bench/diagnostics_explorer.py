"""The explorer's diagnostics: how long each live request takes, and the decomposition.

Uses models trained with the CLI's default recipe (`flowscope train --data NAME --steps N`;
trained here unless --models DIR holds NAME/ model directories), then
- times the Diagnostics panel's request (flowscope.train.diagnostics_compute, live sizes:
  error_by_t n=2048, decompose n=800 at 50 Heun steps, nll n=300) part by part, and each
  diagnostic heatmap (64 x 64) at t = 0.9, the way the compute process computes them;
- times each core diagnostic at its default size (flowscope.diagnostics);
- decomposes the sample error at 10 / 50 / 200 Heun steps (n = 4000, like the CLI report).
Prints JSON; --save keeps it in bench/results/.

    python bench/diagnostics_explorer.py [--models DIR] [--steps 3000] [--threads 2] [--save]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, log, parser, rnd, setup

from flowscope import diagnostics as D
from flowscope.core.data import load_target
from flowscope.core.flow_model import load
from flowscope.train.diagnostics_compute import (
    MAP_KINDS,
    DiagMapRequest,
    DiagnosticsRequest,
    compute_diagnostics,
    compute_map,
)

TARGETS = ("two_moons", "checkerboard")
STEP_COUNTS = (10, 50, 200)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _train(name: str, out: Path, steps: int) -> float:
    cmd = [sys.executable, "-m", "flowscope", "train", "--data", name, "--steps", str(steps)]
    cmd += ["--out", str(out), "--threads", "1"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - t0


class _Snap:  # the request only reads .step from the snapshot
    def __init__(self, step: int):
        self.step = step


def _measure(name: str, model, box, n_dec: int) -> dict:
    exact = model.target
    row: dict = {"train_steps": (model.metadata.get("training") or {}).get("steps")}
    req = DiagnosticsRequest(1, exact, _Snap(0))  # live sizes
    res, total = _timed(lambda: compute_diagnostics(req, model))
    row["panel_request_s"] = {k: rnd(v, 3) for k, v in res.seconds.items()}
    row["panel_request_s"]["total"] = rnd(total, 3)
    row["panel_decomposition_n800"] = {
        k: rnd(res.decomposition[k]) for k in ("total", "network", "solver", "floor")
    }
    maps = {}
    for kind in MAP_KINDS:
        m = DiagMapRequest(1, exact, _Snap(0), kind, 0.9, box)
        _, maps[kind] = _timed(lambda m=m: compute_map(m, model))
    row["heatmap_64_s"] = {k: rnd(v, 3) for k, v in maps.items()}
    core = {}
    _, core["error_by_t_n8192"] = _timed(lambda: D.error_by_t(model, exact))
    _, core["error_map_res128"] = _timed(lambda: D.error_map(model, exact, 0.9, box))
    _, core["continuity_residual_res128"] = _timed(
        lambda: D.continuity_residual(model, exact, 0.9, box)
    )
    _, core["nll_n2000"] = _timed(lambda: D.nll(model, exact))
    row["core_s"] = {k: rnd(v, 3) for k, v in core.items()}
    dec = []
    for k in STEP_COUNTS:
        d, sec = _timed(lambda k=k: D.decompose(model, exact, k, "heun", n=n_dec))
        parts = {p: rnd(getattr(d, p)) for p in ("total", "network", "solver", "floor")}
        dec.append({"steps": k, **parts, "seconds": rnd(sec, 3)})
        log(f"{name}: {dec[-1]}")
    row[f"decomposition_heun_n{n_dec}"] = dec
    return row


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000, help="training steps")
    p.add_argument("--models", default=None, help="a folder holding NAME/ model directories")
    args = p.parse_args()
    setup(args)
    load_before = os.getloadavg()
    root = Path(args.models) if args.models else Path(tempfile.mkdtemp(prefix="fs-diag-"))
    n_dec = 500 if args.quick else 4000
    out: dict = {"targets": {}}
    for name in TARGETS:
        mdir = root / name
        train_s = None if mdir.exists() else _train(name, mdir, args.steps)
        row = _measure(name, load(mdir), tuple(load_target(name).bounds), n_dec)
        if train_s is not None:
            row["train_s"] = rnd(train_s, 3)
        out["targets"][name] = row
        log(f"{name}: {row}")
    out["load_average_1_5_15_min"] = {
        "before": [rnd(v, 3) for v in load_before],
        "after": [rnd(v, 3) for v in os.getloadavg()],
    }
    emit("diagnostics_explorer", out, args)


if __name__ == "__main__":
    main()
