"""Couplings and straight flows (issue 14, section 4): eight gaussians -> two moons trained with
the independent coupling, minibatch OT, and one reflow round, compared on the same footing.

For each coupling: the energy distance of Euler samples to fresh target samples at 1, 2, 4, 8,
16, 32 and 64 steps (core.straightness.quality_vs_steps, 2000 points, fixed seeds), the
transport cost E||X_1 - X_0||^2 and the kinetic energy int_0^1 E||u_t(X_t)||^2 dt of the model's
ODE (equal for straight paths; the gap is the excess), and the training cost per step. OT's extra
cost is timed in the same run as the independent coupling (blocks interleaved, median ratio), so a
shared machine's load hits both alike. Reflow: pairs (x_0, ODE(x_0)) of the independent model
(Heun 50 steps), then the same number of training steps on them.

    .venv/bin/python bench/couplings.py [--quick] [--save]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log, parser, rnd, setup  # noqa: E402

from flowscope.core.couplings import reflow_pairs  # noqa: E402
from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.metrics import energy_distance  # noqa: E402
from flowscope.core.models import ModelConfig  # noqa: E402
from flowscope.core.straightness import quality_vs_steps, straightness  # noqa: E402
from flowscope.train.trainer import TrainConfig, Trainer  # noqa: E402

STEPS = (1, 2, 4, 8, 16, 32, 64)
MC = ModelConfig(dim=2, width=128, depth=3)


def trainer(target, source, steps: int, coupling: str = "independent", pairs=None, seed=0):
    cfg = TrainConfig(steps=steps, batch_size=256, lr=3e-3, seed=seed, coupling=coupling)
    return Trainer(target, MC, cfg, source=source, pairs=pairs)


def report(model, target, n: int) -> dict:
    q = quality_vs_steps(model, target, steps=STEPS, n=n)
    s = straightness(model, n, 100, seed=3)
    return {
        "energy_distance_by_euler_steps": {str(k): rnd(v) for k, v in q.items()},
        "transport_cost": rnd(s["transport_cost"]),
        "kinetic_energy": rnd(s["kinetic_energy"]),
        "kinetic_minus_transport": rnd(s["gap"]),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000, help="training steps per model")
    p.add_argument("--n", type=int, default=2000, help="evaluation points")
    args = p.parse_args()
    if args.quick:
        args.steps, args.n = 300, 500
    if args.threads is None:
        torch.set_num_threads(1)  # the 2D recipe trains on one thread (PITFALLS.md item 4)
    setup(args)
    load0 = os.getloadavg()[0]
    source = load_target("eight_gaussians").exact
    target = load_target("two_moons").exact
    ref = target.sample(args.n, seed=77)
    floor = energy_distance(target.sample(args.n, seed=78), ref)

    # training cost per step, independent vs OT, in interleaved blocks
    ind, ot = trainer(target, source, None), trainer(target, source, None, "ot")
    ind.step(10), ot.step(10)
    block = 20 if args.quick else 100
    times: dict[str, list[float]] = {"independent": [], "ot": []}
    for _ in range(3 if args.quick else 7):
        for name, tr in (("independent", ind), ("ot", ot)):
            t0 = time.perf_counter()
            tr.step(block)
            times[name].append((time.perf_counter() - t0) / block * 1e3)
    ms = {k: statistics.median(v) for k, v in times.items()}
    ratios = [o / i for o, i in zip(times["ot"], times["independent"], strict=True)]
    log(f"ms per step: {ms}")

    out: dict = {
        "source": "eight_gaussians", "target": "two_moons", "model": "MLP width 128 depth 3",
        "train": {"steps": args.steps, "batch": 256, "lr": 3e-3},
        "eval_points": args.n, "energy_distance_floor_fresh_target_samples": rnd(floor),
        "ms_per_step": {k: rnd(v) for k, v in ms.items()},
        "ot_over_independent_step_time_median": rnd(statistics.median(ratios)),
    }  # fmt: skip
    models = {}
    for name in ("independent", "ot"):
        t0 = time.perf_counter()
        tr = trainer(target, source, args.steps, name)
        tr.run()
        models[name] = tr.model()
        out[name] = {"train_wall_s": rnd(time.perf_counter() - t0),
                     **report(models[name], target, args.n)}  # fmt: skip
        if name == "ot":
            out[name]["ot_assignment_ms_per_step"] = rnd(tr.summary()["coupling_ms_per_step"])
        log(f"{name}: {out[name]}")
    t0 = time.perf_counter()
    bank = reflow_pairs(models["independent"], 20000, steps=50, seed=11)
    pairs_s = time.perf_counter() - t0
    tr = trainer(target, source, args.steps, pairs=bank, seed=1)
    tr.run()
    out["reflow_1_round"] = {"pairs": len(bank), "pairs_wall_s": rnd(pairs_s),
                             "train_wall_s": rnd(time.perf_counter() - t0 - pairs_s),
                             **report(tr.model(), target, args.n)}  # fmt: skip
    log(f"reflow: {out['reflow_1_round']}")
    e2 = {k: out[k]["energy_distance_by_euler_steps"]["2"]
          for k in ("independent", "ot", "reflow_1_round")}  # fmt: skip
    out["energy_distance_at_2_steps"] = e2
    out["load_average_before_after"] = [rnd(load0, 3), rnd(os.getloadavg()[0], 3)]
    emit("couplings", out, args)


if __name__ == "__main__":
    main()
