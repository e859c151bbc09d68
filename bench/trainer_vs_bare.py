"""flowscope Trainer.run() vs a bare PyTorch loop: same model, init, batch, Adam, lr and data.

Both train a default MLP on checkerboard with CondOT flow matching (t ~ U[0, 1],
x_t = t z + (1 - t) eps, target z - eps, loss = ||pred - target||^2 summed over D, batch mean),
drawing (z, t, eps) from generators seeded alike, so the two losses agree step for step.
The goal is trainer/bare >= 0.97 in steps/s. ``--profile`` also measures, per step, each piece
of work the trainer adds (data path, lr/item bookkeeping, t-bins, 10 Hz snapshots).
Repeats are short (100 steps) and many (20): on a shared machine bursts of load then spoil
single pairs, which the median of per-pair ratios ignores; run() is called once per repeat,
so its final forced snapshot costs ~1/100 of a snapshot per step.

    .venv/bin/python bench/trainer_vs_bare.py [--quick] [--save] [--profile]
"""

from __future__ import annotations

import math
import time

import torch
from _common import emit, interleave, log, median, parser, rnd, setup

from flowscope.core.data import load_target
from flowscope.core.flow_model import Normalization
from flowscope.core.losses import sample_training_times
from flowscope.core.models import ModelConfig, build_model
from flowscope.core.paths import sample_path
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


def _per_call(fns: dict, reps: int) -> dict[str, float]:
    """Median seconds of one call of each fn, calls interleaved, over ``reps`` rounds."""
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: median(v) for k, v in ts.items()}


def overheads(args, reps: int = 200) -> dict:
    """Per-step cost (us) of each thing Trainer.run() does beyond the bare loop, measured
    directly on fresh instances (nothing in the trainer is edited)."""
    tr, bare = make(args)
    tr.run(steps=20)
    bare.run(20)
    n, ex = args.batch, tr._sampler
    loss, per, t = tr._train_step()

    def bare_data():
        z, _ = ex(n, bare.gen)
        tt = torch.rand(n, generator=bare.gen)
        eps = torch.randn(z.shape, generator=bare.gen)
        return tt[:, None] * z + (1 - tt[:, None]) * eps, z - eps

    def trainer_data():
        z, _ = ex(n, tr.generator)
        tt = sample_training_times(n, tr.schedule, "velocity", tr.device, generator=tr.generator)
        return sample_path(tr.schedule, z, tt, generator=tr.generator)

    def bookkeeping():
        tr._apply_pending_target()
        for g in tr.optimizer.param_groups:
            g["lr"] = tr._lr_at(tr.step_count)
        loss.item()

    steps = _per_call(
        {"bare": lambda: bare.run(1), "train": tr._train_step, "step": tr.step}, reps // 2
    )
    data = _per_call({"bare": bare_data, "trainer": trainer_data}, reps)
    other = _per_call(
        {
            "book": bookkeeping,
            "bins": lambda: tr._record_bins(per, t),
            "pub": lambda: tr._maybe_publish(1.0, force=True),
        },
        reps,
    )
    sps = 1.0 / steps["bare"]
    us = {
        "bare_step": steps["bare"],
        "trainer__train_step_minus_bare_step": steps["train"] - steps["bare"],
        "trainer_step1_minus__train_step": steps["step"] - steps["train"],
        "data_path_trainer_minus_bare": data["trainer"] - data["bare"],
        "bookkeeping_lr_item_target_check": other["book"],
        "t_bins_every_8_steps": other["bins"] / 8,
        "publish_one_snapshot": other["pub"],
        "snapshots_at_hz_per_step": other["pub"] * min(tr.config.snapshot_hz, sps) / sps,
        "run_call_end_publish_per_step": other["pub"] / args.steps,
    }
    return {k: rnd(1e6 * v, 3) for k, v in us.items()}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=20, help="interleaved repeats (ABAB...)")
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
        log("profile: per-step overheads of the trainer (us)")
        result["trainer_overhead_us_per_step"] = overheads(args)
    emit("trainer_vs_bare", result, args)


if __name__ == "__main__":
    main()
