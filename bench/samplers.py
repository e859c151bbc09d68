"""Sampler throughput (particle-steps/s) of a default-size MLP FlowModel on the CPU.

Part 1 (solvers): for N x steps, ODE heun, ODE euler and SDE euler-maruyama (sigma = 1, which
needs velocity and score: two network calls per step, like heun), float32, default chunk.
Part 2 (precision x chunk): ODE heun with --pc-steps steps, float32 vs bfloat16
(torch.autocast('cpu')) x chunk 4096 / 16384 / all, each against float32 + DEFAULT_CHUNK; bf16
also reports its deviation from the float32 samples (absolute and relative to how far the
particles moved). Variants are interleaved per repeat.
Random weights (timing only). The model is used as a field: samplers.sample_ode / sample_sde on
FlowModel (the same integrator FlowModel.sample calls, but with a chunk_size option).

    .venv/bin/python bench/samplers.py [--quick] [--save]
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from _common import emit, interleave, log, median, parser, rnd, setup

from flowscope.core import samplers
from flowscope.core.flow_model import FlowModel
from flowscope.core.models import ModelConfig, build_model

SOLVERS = {  # name: (sampler kwargs, network calls per step)
    "ode-heun": ({"solver": "heun"}, 2),
    "ode-euler": ({"solver": "euler"}, 1),
    "sde-em": ({"sigma": 1.0}, 2),
}


def run_sampler(model, x0, steps, chunk, bf16=False, solver="heun", sigma=None, seed=0):
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with ctx:
        if sigma is None:
            return samplers.sample_ode(model, x0, steps, solver, chunk_size=chunk).x
        return samplers.sample_sde(model, x0, steps, sigma, seed=seed, chunk_size=chunk).x


def cpu_bf16_flags() -> list[str]:
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split()
    except (OSError, IndexError):
        return []
    return sorted(f for f in flags if "bf16" in f or f.startswith("amx") or f == "avx512f")


def part_solvers(model, ns, steps_list, repeats, seed) -> list[dict]:
    rows = []
    for n in ns:
        x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
        for steps in steps_list:
            log(f"solvers: N={n} steps={steps}")
            fns = {
                name: (lambda kw=kw, x=x0, s=steps: run_sampler(model, x, s, None, **kw))
                for name, (kw, _) in SOLVERS.items()
            }
            times = interleave(fns, repeats)
            for name, ts in times.items():
                med = median(ts)
                calls = SOLVERS[name][1]
                rows.append(
                    {
                        "solver": name,
                        "n": n,
                        "steps": steps,
                        "seconds": rnd(med),
                        "particle_steps_per_s": rnd(n * steps / med),
                        "net_points_per_s": rnd(n * steps * calls / med),
                    }
                )
    return rows


def part_precision_chunk(model, ns, steps, repeats, seed) -> list[dict]:
    rows = []
    base = f"fp32/{samplers.DEFAULT_CHUNK}"
    for n in ns:
        x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
        fns = {}
        for dtype in ("fp32", "bf16"):
            for chunk in (4096, 16384, None):
                label = f"{dtype}/{chunk or 'all'}"
                c = chunk or n

                def fn(c=c, bf=dtype == "bf16", x=x0):
                    return run_sampler(model, x, steps, c, bf16=bf)

                fns[label] = fn
        log(f"precision x chunk: N={n} steps={steps} heun")
        times = interleave(fns, repeats)
        ref = run_sampler(model, x0, steps, None)
        dev = (run_sampler(model, x0, steps, None, bf16=True) - ref).norm(dim=1)
        moved = (ref - x0).norm(dim=1).mean()
        t_base = median(times[base])
        for label, ts in times.items():
            row = {"variant": label, "n": n, "steps": steps, "seconds": rnd(median(ts))}
            row["particle_steps_per_s"] = rnd(n * steps / median(ts))
            row["speedup_vs_" + base.replace("/", "_")] = rnd(t_base / median(ts))
            rows.append(row)
        rows[-1]["bf16_mean_dev"] = rnd(float(dev.mean()))
        rows[-1]["bf16_max_dev"] = rnd(float(dev.max()))
        rows[-1]["bf16_mean_dev_over_mean_displacement"] = rnd(float(dev.mean() / moved))
    return rows


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[1000, 10000, 50000])
    p.add_argument("--steps", type=int, nargs="+", default=[50, 100])
    p.add_argument("--pc-steps", type=int, default=10, help="steps for precision x chunk")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--depth", type=int, default=4)
    args = p.parse_args()
    if args.quick:
        args.ns, args.steps, args.pc_steps, args.repeats = [1000, 10000], [20], 2, 2
    setup(args)
    torch.manual_seed(args.seed)
    mc = ModelConfig(width=args.width, depth=args.depth)
    model = FlowModel(build_model(mc), mc)
    run_sampler(model, torch.randn(512, 2), 5, None)  # warm-up
    run_sampler(model, torch.randn(512, 2), 5, None, bf16=True)
    solver_rows = part_solvers(model, args.ns, args.steps, args.repeats, args.seed)
    pc_rows = part_precision_chunk(model, args.ns, args.pc_steps, args.repeats, args.seed)
    bf16 = [r for r in pc_rows if r["variant"] == f"bf16/{samplers.DEFAULT_CHUNK}"]
    key = f"speedup_vs_fp32_{samplers.DEFAULT_CHUNK}"
    speed = median([r[key] for r in bf16])
    verdict = (
        f"bf16 helps (median speedup {speed:.2f}x at the default chunk)"
        if speed >= 1.1
        else f"bf16 does not help here (median speedup {speed:.2f}x at the default chunk)"
    )
    result = {
        "model": {"width": args.width, "depth": args.depth},
        "default_chunk": samplers.DEFAULT_CHUNK,
        "cpu_bf16_flags": cpu_bf16_flags(),
        "solvers": solver_rows,
        "precision_chunk": pc_rows,
        "bf16_verdict": verdict,
    }
    emit("samplers", result, args)


if __name__ == "__main__":
    main()
