"""Time to quality on checkerboard: training wall time until the energy distance reaches that of
a long reference run.

Reference: the default Trainer config (TrainConfig(steps=--ref-steps), default model) trained to
the end; its ED (2000 model samples, ODE heun 50 steps, vs 2000 target samples, fixed seeds) sets
threshold = --factor x ED_ref. Then a fresh run (same config, another seed) is evaluated every
--every steps up to --max-steps; evaluation time is excluded from its training wall time. Reports
the first (wall time, step) with ED <= threshold, or null, and the whole ED curve. On a shared
machine, "train_wall_s_at_median_rate" (hit step x median seconds/step) is the steadier figure.

    .venv/bin/python bench/time_to_quality.py [--quick] [--save]
"""

from __future__ import annotations

import time

from _common import emit, log, median, parser, rnd, setup

from flowscope.core.data import load_target
from flowscope.core.metrics import energy_distance
from flowscope.core.models import ModelConfig
from flowscope.train.trainer import TrainConfig, Trainer

N_EVAL = 2000
SAMPLE_SEED, TARGET_SEED, ED_SEED = 1234, 5678, 0


def quality(trainer: Trainer, reference_points) -> float:
    x = trainer.model().sample(N_EVAL, steps=50, solver="heun", seed=SAMPLE_SEED)
    return energy_distance(x, reference_points, max_points=None, seed=ED_SEED)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--ref-steps", type=int, default=6000)
    p.add_argument("--max-steps", type=int, default=None, help="default: --ref-steps")
    p.add_argument("--every", type=int, default=250, help="evaluate ED every K steps")
    p.add_argument("--factor", type=float, default=1.1)
    p.add_argument("--target", default="checkerboard")
    args = p.parse_args()
    if args.quick:
        args.ref_steps, args.every = 600, 100
    max_steps = args.max_steps or args.ref_steps
    setup(args)
    target = load_target(args.target)
    ref_points = target.exact.sample(N_EVAL, seed=TARGET_SEED)
    ed_floor = energy_distance(
        target.exact.sample(N_EVAL, seed=SAMPLE_SEED), ref_points, max_points=None, seed=ED_SEED
    )

    log(f"reference: {args.ref_steps} steps")
    ref = Trainer(target, ModelConfig(), TrainConfig(steps=args.ref_steps, seed=args.seed))
    t0 = time.perf_counter()
    ref.run()
    ref_wall = time.perf_counter() - t0
    ref_ed = quality(ref, ref_points)
    threshold = args.factor * ref_ed
    log(f"reference ED {ref_ed:.5f} after {ref_wall:.1f}s; threshold {threshold:.5f}")

    fresh = Trainer(target, ModelConfig(), TrainConfig(steps=max_steps, seed=args.seed + 1))
    curve, wall, eval_wall, hit, per_step = [], 0.0, 0.0, None, []
    while not fresh.done:
        t0, s0 = time.perf_counter(), fresh.step_count
        fresh.run(steps=args.every)
        wall += time.perf_counter() - t0
        per_step.append((time.perf_counter() - t0) / max(1, fresh.step_count - s0))
        t0 = time.perf_counter()
        ed = quality(fresh, ref_points)
        eval_wall += time.perf_counter() - t0
        curve.append({"step": fresh.step_count, "train_wall_s": rnd(wall), "ed": rnd(ed)})
        log(f"  step {fresh.step_count}: train {wall:.1f}s, ED {ed:.5f}")
        if hit is None and ed <= threshold:
            hit = {"step": fresh.step_count, "train_wall_s": rnd(wall), "ed": rnd(ed)}
    if hit is not None:  # the machine may be shared: also give the time at the typical rate
        hit["train_wall_s_at_median_rate"] = rnd(hit["step"] * median(per_step))
    result = {
        "target": args.target,
        "eval": {"n": N_EVAL, "sampler": "ode heun 50 steps", "every": args.every},
        "reference": {
            "steps": args.ref_steps,
            "train_wall_s": rnd(ref_wall),
            "steps_per_s": rnd(args.ref_steps / ref_wall),
            "ed": rnd(ref_ed),
            "final_loss": ref.summary()["final_loss"],
        },
        "ed_of_fresh_target_samples": rnd(ed_floor),
        "threshold": rnd(threshold),
        "first_hit": hit,
        "fresh_run": {
            "max_steps": max_steps,
            "train_wall_s": rnd(wall),
            "eval_wall_s_excluded": rnd(eval_wall),
            "curve": curve,
        },
    }
    emit("time_to_quality", result, args)


if __name__ == "__main__":
    main()
