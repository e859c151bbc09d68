"""Objective x schedule: how well each parameterization samples when trained the same way.

Trains velocity, score and noise models on two moons (width 128, depth 3, batch 256, 1500 steps
by default, one seed per run) under condot, cosine and vp, then measures the energy distance to
fresh target samples of the default ODE samples (Heun, 50 steps) and of SDE samples (Euler-
Maruyama, 100 steps, sigma 1), plus the field error of each model against the exact marginal
(mean ||u_theta - u_t||^2 over x ~ p_t at t in 0.02, 0.1, 0.5, 0.9). The score objective is
run with both weightings: lambda(t) = beta_t^2 (the default) and none (the old loss), so the
table shows what the weighting buys. Prints JSON; --save keeps it in bench/results/.

    python bench/objectives.py [--quick] [--steps N] [--save]
"""

from __future__ import annotations

import time

import torch
from _common import emit, log, parser, rnd, setup

from flowscope.core.data import load_target
from flowscope.core.metrics import energy_distance
from flowscope.core.models import ModelConfig
from flowscope.train.trainer import TrainConfig, Trainer

RUNS = [
    ("velocity", "beta2"),
    ("score", "beta2"),
    ("score", "none"),
    ("noise", "beta2"),
]
SCHEDULES = ("condot", "cosine", "vp")
ERR_TIMES = (0.02, 0.1, 0.5, 0.9)


def field_error(model, exact, t: float, n: int = 2000, seed: int = 0) -> float:
    """E_{x ~ p_t} ||u_model(x, t) - u_t(x)||^2 with x drawn from the exact p_t."""
    g = torch.Generator().manual_seed(seed)
    z = exact.sample(n, generator=g, dtype=torch.float64)
    v = exact.schedule(torch.tensor(t, dtype=torch.float64))
    x = v.alpha * z + v.beta * torch.randn(z.shape, dtype=torch.float64, generator=g)
    u = model.velocity(x.float(), t).double()
    return float((u - exact.velocity(x, t)).square().sum(1).mean())


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--target", default="two_moons")
    args = p.parse_args()
    setup(args)
    steps = 150 if args.quick else args.steps
    n = 1000 if args.quick else 4000
    target = load_target(args.target)
    rows = []
    for sched in SCHEDULES:
        exact = target.exact.with_schedule(sched)
        ref = exact.sample(n, seed=12345)
        for objective, weighting in RUNS:
            mc = ModelConfig(dim=2, width=128, depth=3, parameterization=objective)
            tc = TrainConfig(steps=steps, batch_size=256, schedule=sched, seed=args.seed,
                             score_weighting=weighting, device="cpu")
            t0 = time.perf_counter()
            model = Trainer(target, mc, tc).run().model()
            train_s = time.perf_counter() - t0
            ode = model.sample(n, steps=50, solver="heun", seed=1)
            sde = model.sample(n, steps=100, solver="euler", sigma=1.0, seed=1)
            row = {
                "schedule": sched,
                "objective": objective,
                "score_weighting": weighting if objective == "score" else None,
                "energy_ode_heun50": rnd(energy_distance(ode, ref)),
                "energy_sde_em100": rnd(energy_distance(sde, ref)),
                "field_mse_by_t": {str(t): rnd(field_error(model, exact, t)) for t in ERR_TIMES},
                "train_s": rnd(train_s, 3),
            }
            rows.append(row)
            log(row)
    # the goal: score (default weighting) ODE samples within 2x the velocity model's
    ratios = {}
    for sched in SCHEDULES:
        by = {(r["objective"], r["score_weighting"]): r for r in rows if r["schedule"] == sched}
        vel = by[("velocity", None)]["energy_ode_heun50"]
        ratios[sched] = {
            "score_beta2_over_velocity": rnd(by[("score", "beta2")]["energy_ode_heun50"] / vel),
            "score_none_over_velocity": rnd(by[("score", "none")]["energy_ode_heun50"] / vel),
            "noise_over_velocity": rnd(by[("noise", None)]["energy_ode_heun50"] / vel),
        }
    reference_floor = energy_distance(target.exact.sample(n, seed=7), ref)
    emit(
        "objectives",
        {"steps": steps, "n_samples": n, "rows": rows, "ode_energy_ratios": ratios,
         "energy_of_fresh_target_samples": rnd(reference_floor)},
        args,
    )


if __name__ == "__main__":
    main()
