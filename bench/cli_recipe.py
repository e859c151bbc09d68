"""The 2D training recipe: quality of `flowscope train --data checkerboard` against CPU time.

Trains each recipe (width x depth, batch, lr with warm-up and cosine decay, EMA, steps) on one
torch thread and measures the CPU seconds (time.process_time) and wall seconds of training, then
samples the model like `flowscope sample` does (Heun, 50 steps) and scores the samples:

- support: the share of samples where the exact p_data (the closed-form ExactMarginal) is above
  SUPPORT_FRACTION of its maximum, i.e. inside the squares (the target's own samples: ~0.98);
  round blobs spill into the empty squares and score lower;
- energy distance to fresh target samples (two target samples give the noise level).

    python bench/cli_recipe.py --threads 1 [--recipes old,app,default] [--quick] [--save]
"""

from __future__ import annotations

import math
import time

import torch
from _common import emit, log, parser, rnd, setup

from flowscope.core.data import load_target
from flowscope.core.defaults import BATCH_2D, DEPTH_2D, EMA_2D, LR_2D, STEPS_2D, WARMUP_2D, WIDTH_2D
from flowscope.core.metrics import energy_distance
from flowscope.core.models import ModelConfig
from flowscope.train.trainer import TrainConfig, Trainer

SUPPORT_FRACTION = 0.01

#: name -> (width, depth, batch, lr, warmup_steps, ema_decay, steps, lr_schedule[, objective])
RECIPES = {
    # the CLI before: 256 x 4, batch 1024, cosine, no EMA, 3000 steps (~12 min of CPU)
    "old_cli": (256, 4, 1024, 2e-3, 0, None, 3000, "auto"),
    # the app's network with the old CLI's schedule
    "app_net": (128, 3, 512, 2e-3, 0, None, 3000, "auto"),
    "w128_warm": (128, 3, 512, 2e-3, 100, None, 3000, "auto"),
    "w128_warm_ema": (128, 3, 512, 2e-3, 100, 0.995, 3000, "auto"),
    "w128_b256_ema": (128, 3, 256, 2e-3, 100, 0.995, 3000, "auto"),
    "w128_lr3_ema": (128, 3, 512, 3e-3, 100, 0.995, 3000, "auto"),
    "w128_6k_ema": (128, 3, 512, 2e-3, 100, 0.995, 6000, "auto"),
    "w256x3_ema": (256, 3, 512, 2e-3, 100, 0.995, 3000, "auto"),
    "w64_ema": (64, 3, 512, 2e-3, 100, 0.995, 3000, "auto"),
    "w128_lr5_6k": (128, 3, 512, 5e-3, 200, 0.995, 6000, "auto"),
    "w128_lr1e2_6k": (128, 3, 512, 1e-2, 300, 0.995, 6000, "auto"),
    "w128_lr5_12k": (128, 3, 512, 5e-3, 200, 0.995, 12000, "auto"),
    "w128_lr3_12k": (128, 3, 512, 3e-3, 200, 0.995, 12000, "auto"),
    "w256x3_lr3_6k": (256, 3, 512, 3e-3, 200, 0.995, 6000, "auto"),
    "w128_b256_lr5_12k": (128, 3, 256, 5e-3, 200, 0.995, 12000, "auto"),
    "w128x4_lr5_8k": (128, 4, 512, 5e-3, 200, 0.995, 8000, "auto"),
    "w128_lr1e2_12k": (128, 3, 512, 1e-2, 300, 0.995, 12000, "auto"),
    "w128_lr1e2_12k_ema999": (128, 3, 512, 1e-2, 300, 0.999, 12000, "auto"),
    "w128_lr1e2_20k": (128, 3, 512, 1e-2, 300, 0.995, 20000, "auto"),
    "w128_b256_lr1e2_20k": (128, 3, 256, 1e-2, 300, 0.995, 20000, "auto"),
    "w256x3_lr5_8k": (256, 3, 512, 5e-3, 300, 0.995, 8000, "auto"),
    "w128_b256_lr1e2_12k": (128, 3, 256, 1e-2, 300, 0.995, 12000, "auto"),
    # the app trains until stopped: constant lr after the warm-up (old app: 2e-3, no EMA)
    "app_live_old": (128, 3, 512, 2e-3, 0, None, 12000, "constant"),
    "app_live": (128, 3, 512, LR_2D, WARMUP_2D, EMA_2D, 12000, "constant"),
    # the other objectives at the default lr (must not diverge)
    "default_score": (
        WIDTH_2D,
        DEPTH_2D,
        BATCH_2D,
        LR_2D,
        WARMUP_2D,
        EMA_2D,
        STEPS_2D,
        "auto",
        "score",
    ),
    "default_noise": (
        WIDTH_2D,
        DEPTH_2D,
        BATCH_2D,
        LR_2D,
        WARMUP_2D,
        EMA_2D,
        STEPS_2D,
        "auto",
        "noise",
    ),
    "score_lr2e3": (128, 3, 512, 2e-3, 300, 0.995, 12000, "auto", "score"),
    "score_lr2e3_old": (128, 3, 512, 2e-3, 0, None, 12000, "auto", "score"),
    "score_lr5e3": (128, 3, 512, 5e-3, 300, 0.995, 12000, "auto", "score"),
    "default": (WIDTH_2D, DEPTH_2D, BATCH_2D, LR_2D, WARMUP_2D, EMA_2D, STEPS_2D, "auto"),
}


def support_share(exact, x: torch.Tensor, log_max: float) -> float:
    logp = torch.cat([exact.log_prob(c, 1.0) for c in x.double().split(4096)])
    return float((logp >= log_max + math.log(SUPPORT_FRACTION)).double().mean())


def density_log_max(target) -> float:
    lo_x, hi_x, lo_y, hi_y = target.bounds
    g = torch.stack(
        torch.meshgrid(
            torch.linspace(lo_x, hi_x, 400, dtype=torch.float64),
            torch.linspace(lo_y, hi_y, 400, dtype=torch.float64),
            indexing="ij",
        ),
        -1,
    ).reshape(-1, 2)
    means = target.exact.means.double()
    pts = torch.cat([g, means])
    return float(max(target.exact.log_prob(c, 1.0).max() for c in pts.split(8192)))


def run_recipe(target, name: str, recipe, seed: int, n_eval: int, quick: bool) -> dict:
    width, depth, batch, lr, warmup, ema, steps, sched = recipe[:8]
    objective = recipe[8] if len(recipe) > 8 else "velocity"
    if quick:
        steps = max(50, steps // 20)
    mc = ModelConfig(dim=2, width=width, depth=depth, parameterization=objective)
    tc = TrainConfig(
        steps=steps, batch_size=batch, lr=lr, warmup_steps=warmup, ema_decay=ema,
        lr_schedule=sched, seed=seed, device="cpu", normalize="auto",
    )  # fmt: skip
    trainer = Trainer(target, mc, tc)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trainer.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    model = trainer.model()
    with torch.no_grad():
        x = model.sample(n_eval, steps=50, solver="heun", seed=seed + 1)
    return {
        "width": width,
        "depth": depth,
        "batch": batch,
        "lr": lr,
        "warmup_steps": warmup,
        "ema_decay": ema,
        "steps": steps,
        "lr_schedule": sched,
        "objective": objective,
        "error": trainer.error,
        "train_cpu_s": rnd(cpu),
        "train_wall_s": rnd(wall),
        "cpu_ms_per_step": rnd(1000 * cpu / steps),
        "final_loss": rnd(trainer.summary()["final_loss"]),
        "samples": x,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated names")
    p.add_argument("--n-eval", type=int, default=20000)
    p.add_argument("--png", default=None, help="write each recipe's samples to PNG_<name>.png")
    args = p.parse_args()
    setup(args)
    target = load_target("checkerboard")
    log_max = density_log_max(target)
    ref = target.sample(args.n_eval, seed=args.seed + 2)
    ref2 = target.sample(args.n_eval, seed=args.seed + 3)
    out = {
        "target": "checkerboard",
        "support_fraction": SUPPORT_FRACTION,
        "reference": {
            "support": rnd(support_share(target.exact, ref, log_max)),
            "energy": rnd(energy_distance(ref2, ref)),
        },
        "recipes": {},
    }
    log(f"reference: {out['reference']}")
    for name in args.recipes.split(","):
        r = run_recipe(target, name, RECIPES[name], args.seed, args.n_eval, args.quick)
        x = r.pop("samples")
        r["support"] = rnd(support_share(target.exact, x, log_max))
        r["energy"] = rnd(energy_distance(x, ref))
        if args.png:
            from flowscope.core.render import save_density_png

            save_density_png(x.numpy(), f"{args.png}_{name}.png", target.bounds)
        out["recipes"][name] = r
        log(f"{name}: {r}")
    emit("cli_recipe", out, args)


if __name__ == "__main__":
    main()
