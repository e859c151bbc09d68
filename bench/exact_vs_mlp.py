"""Exact marginal field (ExactMarginal.velocity) vs the MLP velocity: points/s at equal N.

Targets: checkerboard (K = 1152), logo (K ~ 1200) and a seeded random 5000-component mixture;
the MLP is a default-size FlowModel with random weights (its cost does not depend on the target).
Both run in float32 at t = 0.5, interleaved per repeat. First (before anything else allocates),
a 50k x 5k exact evaluation checks that memory stays bounded: peak RSS via getrusage before and
after, against the 4 bytes x N x K that one dense (N, K) float32 matrix would need.

    .venv/bin/python bench/exact_vs_mlp.py [--quick] [--save]
"""

from __future__ import annotations

import time

import torch
from _common import emit, interleave, log, median, parser, peak_rss_mb, rnd, setup

from flowscope.core.data import load_target
from flowscope.core.exact import ExactMarginal
from flowscope.core.flow_model import FlowModel
from flowscope.core.models import ModelConfig, build_model


def random_mixture(k: int, seed: int) -> ExactMarginal:
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(k, 2, generator=g, dtype=torch.float64) * 6 - 3
    widths = 0.02 + 0.08 * torch.rand(k, generator=g, dtype=torch.float64)
    weights = 0.5 + torch.rand(k, generator=g, dtype=torch.float64)
    return ExactMarginal(means, weights=weights, widths=widths)


def points(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * 1.5


def memory_check(exact: ExactMarginal, n: int, seed: int) -> dict:
    x = points(n, seed)
    before = peak_rss_mb()
    t0 = time.perf_counter()
    v = exact.velocity(x, 0.5)
    dt = time.perf_counter() - t0
    after = peak_rss_mb()
    dense_mb = 4.0 * n * exact.n_components / 2**20
    return {
        "n": n,
        "k": exact.n_components,
        "seconds": rnd(dt),
        "finite": bool(torch.isfinite(v).all()),
        "peak_rss_before_mb": rnd(before),
        "peak_rss_after_mb": rnd(after),
        "peak_rss_growth_mb": rnd(after - before),
        "one_dense_nxk_float32_mb": rnd(dense_mb),
        "max_block_entries": exact.max_block,
        "bounded": (after - before) < 0.5 * dense_mb,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[1000, 10000, 50000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--random-k", type=int, default=5000)
    p.add_argument("--memory-n", type=int, default=50000)
    args = p.parse_args()
    if args.quick:
        args.ns, args.repeats = [1000, 10000], 2
    setup(args)
    rand = random_mixture(args.random_k, args.seed)
    targets = {
        "checkerboard": load_target("checkerboard").exact,
        "logo": load_target("logo").exact,
        f"random{args.random_k}": rand,
    }
    log(f"memory check: {args.memory_n} x {rand.n_components}")
    memory = memory_check(rand, args.memory_n, args.seed)
    torch.manual_seed(args.seed)
    mc = ModelConfig()
    mlp = FlowModel(build_model(mc), mc)
    rows = []
    for n in args.ns:
        x = points(n, args.seed + 1)
        fns = {f"exact/{k}": (lambda e=e, x=x: e.velocity(x, 0.5)) for k, e in targets.items()}
        fns["mlp"] = lambda x=x: mlp.velocity(x, 0.5)
        for fn in fns.values():  # warm-up (also fills ExactMarginal's parameter cache)
            fn()
        log(f"N={n}")
        times = interleave(fns, args.repeats)
        t_mlp = median(times["mlp"])
        for name, ts in times.items():
            k = targets[name.split("/")[1]].n_components if name != "mlp" else None
            row = {"field": name, "k": k, "n": n, "seconds": rnd(median(ts))}
            row["points_per_s"] = rnd(n / median(ts))
            row["time_vs_mlp"] = rnd(median(ts) / t_mlp)
            if k:
                row["pair_evals_per_s"] = rnd(n * k / median(ts))
            rows.append(row)
    result = {
        "dtype": "float32",
        "t": 0.5,
        "mlp": {"width": mc.width, "depth": mc.depth},
        "throughput": rows,
        "memory_check": memory,
    }
    emit("exact_vs_mlp", result, args)


if __name__ == "__main__":
    main()
