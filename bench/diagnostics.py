"""Diagnostics: the decomposition of the sample error and how long each diagnostic takes.

Trains the CLI's default 2D model (MLP width 256, depth 4, batch 1024, lr 2e-3, velocity,
condot) on two moons and on the checkerboard, then
- decomposes the energy distance of its Heun samples at 10 / 50 / 200 steps into the network's
  and the solver's share (``flowscope.diagnostics.decompose``, n = 4000, same noise for all);
- times every diagnostic with its default sizes (error_by_t, error_map and continuity_residual
  at res 128, decompose at 50 steps, nll, memorization on a 500-point set) and the whole
  ``flowscope diagnose`` command (a subprocess, default options).
Prints JSON; --save keeps it in bench/results/.

    python bench/diagnostics.py [--quick] [--steps N] [--threads 2] [--save]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import emit, log, parser, rnd, setup

from flowscope import diagnostics as D
from flowscope.core.data import load_target
from flowscope.core.exact import ExactMarginal
from flowscope.train.trainer import TrainConfig, Trainer

TARGETS = ("two_moons", "checkerboard")
STEP_COUNTS = (10, 50, 200)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _cli_seconds(model_dir: Path, threads: int | None) -> tuple[float, dict]:
    out = model_dir.parent / f"{model_dir.name}-report.json"
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, "-m", "flowscope", "diagnose", "--model", str(model_dir)]
    cmd += ["--out", str(out), "--png", str(out.with_suffix(".png"))]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"flowscope diagnose failed: {r.stderr}")
    return wall, json.loads(out.read_text())["timing_s"]


def _decompositions(model, exact, counts, n_dec: int) -> list[dict]:
    rows = []
    for k in counts:
        d, sec = _timed(lambda k=k: D.decompose(model, exact, k, "heun", n=n_dec))
        row = {
            "steps": k,
            "total": rnd(d.total),
            "network": rnd(d.network),
            "solver": rnd(d.solver),
            "floor": rnd(d.floor),
            "seconds": rnd(sec, 3),
        }
        rows.append(row)
        log(f"  {row}")
    return rows


def _time_each(model, exact, box, n_dec: int) -> dict:
    t = {}
    _, t["error_by_t"] = _timed(lambda: D.error_by_t(model, exact))
    _, t["error_map_res128"] = _timed(lambda: D.error_map(model, exact, 0.9, box))
    _, t["continuity_residual_res128"] = _timed(
        lambda: D.continuity_residual(model, exact, 0.9, box)
    )
    _, t["decompose_heun50_n4000"] = _timed(lambda: D.decompose(model, exact, n=n_dec))
    _, t["nll_n2000"] = _timed(lambda: D.nll(model, exact))
    _, t["nll_n1000"] = _timed(lambda: D.nll(model, exact, n=1000))
    return t


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000, help="training steps (the CLI default)")
    args = p.parse_args()
    setup(args)
    steps = 150 if args.quick else args.steps
    n_dec = 500 if args.quick else 4000
    counts = (10, 50) if args.quick else STEP_COUNTS
    load_before = os.getloadavg()  # other work on the machine slows every figure below
    tmp = Path(tempfile.mkdtemp(prefix="flowscope-bench-diag-"))
    targets, timings = {}, {}
    for name in TARGETS:
        target = load_target(name)
        exact = target.exact
        tc = TrainConfig(steps=steps, batch_size=1024, lr=2e-3, seed=args.seed, device="cpu")
        trainer, train_s = _timed(lambda target=target, tc=tc: Trainer(target, None, tc).run())
        model = trainer.model()
        log(f"{name}: trained {steps} steps in {train_s:.1f}s")
        rows = _decompositions(model, exact, counts, n_dec)
        t = _time_each(model, exact, target.bounds, n_dec)
        model_dir = tmp / name
        model.save(model_dir)
        wall, inner = _cli_seconds(model_dir, args.threads)
        t["cli_diagnose_wall"] = wall
        t["cli_diagnose_parts"] = {k: rnd(v, 3) for k, v in inner.items()}
        timings[name] = {k: (rnd(v, 3) if isinstance(v, float) else v) for k, v in t.items()}
        log(f"  timings {timings[name]}")
        targets[name] = {
            "train_steps": steps,
            "train_s": rnd(train_s, 3),
            "components": exact.n_components,
            "decomposition_heun": rows,
        }
    # memorization on a 500-point set (h = 0): exact-field samples against the points
    pts = load_target("two_moons").exact.sample(500, seed=1, dtype=torch.float64)
    points = ExactMarginal(pts)
    samples = D.decompose(points, points, 50, "heun", n=2000).samples
    mem, sec = _timed(lambda: D.memorization(samples, pts))
    timings["memorization_2000_vs_500"] = rnd(sec, 3)
    emit(
        "diagnostics",
        {
            "load_average_1_5_15_min": {
                "before": [rnd(v, 3) for v in load_before],
                "after": [rnd(v, 3) for v in os.getloadavg()],
            },
            "n_decomposition": n_dec,
            "metric": "energy distance to fresh target samples",
            "fine_reference": "RK4 with max(50, steps) steps",
            "targets": targets,
            "seconds": timings,
            "memorization_exact_field_500_points": {
                "share": rnd(mem.share),
                "nn_ratio": rnd(mem.nn_ratio),
            },
        },
        args,
    )


if __name__ == "__main__":
    main()
