"""flowscope Trainer.run() vs a bare PyTorch loop: same model, init, batch, Adam, lr and data.

Both train a default MLP on checkerboard with CondOT flow matching (t ~ U[0, 1],
x_t = t z + (1 - t) eps, target z - eps, loss = ||pred - target||^2 summed over D, batch mean),
drawing (z, t, eps) from generators seeded alike, so the two losses agree step for step.
The goal is trainer/bare >= 0.97 in steps/s. ``--profile`` also splits the trainer's overhead
into its parts (ablations on the trainer instance, nothing is edited) and adds a cProfile top.

    .venv/bin/python bench/trainer_vs_bare.py [--quick] [--save] [--profile]
"""

from __future__ import annotations

import cProfile
import io
import math
import pstats

import torch
from _common import emit, interleave, log, median, parser, rnd, setup

from flowscope.core.data import load_target
from flowscope.core.flow_model import Normalization
from flowscope.core.models import ModelConfig, build_model
from flowscope.train.trainer import MixtureSampler, TrainConfig, Trainer


class BareLoop:
    """The ~15-line reference loop (CPU, float32)."""

    def __init__(self, exact, mc: ModelConfig, tc: TrainConfig):
        torch.manual_seed(tc.seed)  # the Trainer seeds the same way before build_model
        self.net = build_model(mc)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=tc.lr)
        self.sampler = MixtureSampler(exact, torch.device("cpu"), Normalization((0.0, 0.0)))
        self.gen = torch.Generator().manual_seed(tc.seed)
        self.batch, self.loss = tc.batch_size, math.nan

    def run(self, steps: int) -> None:
        net, opt, gen, n = self.net, self.opt, self.gen, self.batch
        for _ in range(steps):
            z, _ = self.sampler(n, gen)
            t = torch.rand(n, generator=gen)
            eps = torch.randn(z.shape, generator=gen)
            x_t = t[:, None] * z + (1 - t[:, None]) * eps
            loss = ((net(x_t, t) - (z - eps)) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        self.loss = loss.item()


def make(args):
    target = load_target("checkerboard")
    mc = ModelConfig(width=args.width, depth=args.depth)
    tc = TrainConfig(
        steps=None, batch_size=args.batch, lr_schedule="constant", seed=args.seed, device="cpu"
    )
    trainer = Trainer(target, mc, tc)
    if not trainer.normalization.is_identity:
        raise RuntimeError("checkerboard is expected to train unnormalized")
    return trainer, BareLoop(target.exact, mc, tc)


def ablations(args, n: int) -> dict:
    """steps/s of the trainer with parts of its per-step work removed (fresh instances)."""
    variants = {}

    def variant(name, patch=None, loop=None):
        tr, _ = make(args)
        if patch:
            patch(tr)
        run = loop(tr) if loop else (lambda: tr.run(steps=n))
        run()  # warm-up
        variants[name] = run

    def no_publish(tr):
        tr._maybe_publish = lambda loss, force=False: None

    def no_bins(tr):
        tr._record_bins = lambda per, t: None

    def neither(tr):
        no_publish(tr)
        no_bins(tr)

    variant("run (full)")
    variant("run, no snapshots", no_publish)
    variant("run, no t-bins", no_bins)
    variant("run, no snapshots/t-bins", neither)
    variant("step(n), no snapshots/t-bins", neither, lambda tr: lambda: tr.step(n))
    variant("_train_step only", loop=lambda tr: lambda: [tr._train_step() for _ in range(n)])
    _, bare = make(args)
    variant("bare", loop=lambda tr: lambda: bare.run(n))
    times = interleave(variants, args.repeats)
    base = n / median(times["bare"])
    out = {}
    for k, v in times.items():
        sps = n / median(v)
        out[k] = {"steps_per_s": rnd(sps), "us_per_step_over_bare": rnd(1e6 / sps - 1e6 / base)}
    return out


def profile_top(trainer: Trainer, n: int, top: int = 15) -> list[dict]:
    prof = cProfile.Profile()
    prof.runcall(trainer.run, steps=n)
    stats = pstats.Stats(prof, stream=io.StringIO()).sort_stats("tottime")
    rows = []
    for (file, line, fn), (_, ncalls, tottime, cumtime, _) in list(stats.stats.items()):
        rows.append((tottime, f"{file.split('site-packages/')[-1]}:{line}({fn})", ncalls, cumtime))
    rows.sort(reverse=True)
    return [
        {"fn": name, "calls": c, "tottime_us_per_step": rnd(1e6 * tt / n, 3)}
        | {"cumtime_us_per_step": rnd(1e6 * ct / n, 3)}
        for tt, name, c, ct in rows[:top]
    ]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=10, help="interleaved repeats (ABAB...)")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--profile", action="store_true", help="also split the trainer's overhead")
    args = p.parse_args()
    if args.quick:
        args.steps, args.repeats, args.warmup = 100, 4, 20
    setup(args)
    trainer, bare = make(args)
    log(f"warm-up {args.warmup} steps each")
    trainer.run(steps=args.warmup)
    bare.run(args.warmup)
    same = abs(trainer.history.losses[-1] - bare.loss) <= 1e-5 * max(1.0, abs(bare.loss))
    log(f"loss after warm-up: trainer {trainer.history.losses[-1]:.6f}, bare {bare.loss:.6f}")
    n = args.steps
    times = interleave(
        {"trainer": lambda: trainer.run(steps=n), "bare": lambda: bare.run(n)}, args.repeats
    )
    per_ratio = [b / a for a, b in zip(times["trainer"], times["bare"])]
    result = {
        "config": {"width": args.width, "depth": args.depth, "batch": args.batch, "steps": n},
        "trainer_steps_per_s": rnd(n / median(times["trainer"])),
        "bare_steps_per_s": rnd(n / median(times["bare"])),
        "ratio_trainer_over_bare": rnd(median(times["bare"]) / median(times["trainer"])),
        "median_of_per_repeat_ratios": rnd(median(per_ratio)),
        "ratio_of_best_times": rnd(min(times["bare"]) / min(times["trainer"])),
        "per_repeat_ratios": [rnd(r) for r in per_ratio],
        "goal": 0.97,
        "losses_match_after_warmup": bool(same),
        "trainer_reported_steps_per_s": rnd(trainer.steps_per_sec),
        "seconds": {k: [rnd(x) for x in v] for k, v in times.items()},
    }
    result["meets_goal"] = result["median_of_per_repeat_ratios"] >= 0.97
    if args.profile:
        log("profile: ablations")
        result["ablations"] = ablations(args, n)
        log("profile: cProfile of trainer.run")
        result["cprofile_top"] = profile_top(make(args)[0], n)
    emit("trainer_vs_bare", result, args)


if __name__ == "__main__":
    main()
