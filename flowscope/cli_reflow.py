"""``flowscope reflow``: straighten a trained 2D model (rectified flow).

Draws ``--pairs`` couples (x_0, ODE(x_0)) from the model (x_0 from its source, the ODE with
``--ode-steps`` Heun steps), trains a new velocity model of the same size on them for ``--steps``
steps, and saves it to ``--out`` with its kinetic energy, transport cost and few-step quality
(before and after) in model.json under ``training.reflow``.
"""

from __future__ import annotations

import sys

from .cli import CliError

#: accepted ranges of the counts
STEPS, PAIRS, ODE_STEPS = (1, 1_000_000), (16, 5_000_000), (1, 10_000)
#: Monte Carlo size of the straightness figures printed and stored
REPORT_N = 2000


def add_reflow_parser(sub) -> None:
    r = sub.add_parser(
        "reflow",
        help="retrain a 2D model on its own (x_0, ODE(x_0)) pairs: straighter paths, fewer steps",
    )
    r.add_argument("--model", required=True, help="model directory to reflow")
    r.add_argument("--out", required=True, help="model directory to write")
    r.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    r.add_argument("--pairs", type=int, default=20000, help="(x_0, x_1) pairs (default 20000)")
    r.add_argument("--ode-steps", type=int, default=50, help="Heun steps drawing the pairs")
    r.add_argument("--batch", type=int, default=1024)
    r.add_argument("--lr", type=float, default=2e-3)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _check(a) -> None:
    from .cli_io import check_finite, check_model_dir, check_ranges

    for name, v, (lo, hi) in (
        ("--steps", a.steps, STEPS),
        ("--pairs", a.pairs, PAIRS),
        ("--ode-steps", a.ode_steps, ODE_STEPS),
    ):
        if not lo <= v <= hi:
            raise CliError(f"{name} must be between {lo} and {hi}, got {v}")
    check_finite(lr=a.lr)
    if not a.lr > 0:
        raise CliError("--lr must be > 0")
    check_ranges(a)
    check_model_dir(a.out)


def cmd_reflow(a) -> int:
    import torch

    from .cli import run_trainer
    from .cli_io import save_model
    from .core.couplings import reflow_pairs
    from .core.exact import ExactMarginal
    from .core.flow_model import load
    from .core.metrics import quality_vs_steps, straightness
    from .core.models import ModelConfig
    from .train.trainer import TrainConfig, Trainer

    _check(a)
    old = load(a.model)
    if old.kind != "2d":
        raise CliError("reflow needs a 2D model (image models are not supported)")
    before = straightness(old, REPORT_N, 50, seed=a.seed)
    bank = reflow_pairs(old, a.pairs, steps=a.ode_steps, seed=a.seed)
    if not (torch.isfinite(bank.x0).all() and torch.isfinite(bank.x1).all()):
        raise CliError("the model's ODE gave NaN or Inf samples; it cannot be reflowed")
    # the target only sets the normalization and is kept beside the model; without a kept
    # target the pairs' x_1 stand in for it
    target = old.target if old.target is not None else ExactMarginal(bank.x1)
    mc = old.config
    mc = ModelConfig(dim=mc.dim, width=mc.width, depth=mc.depth, activation=mc.activation)
    tc = TrainConfig(
        steps=a.steps,
        batch_size=a.batch,
        lr=a.lr,
        schedule=old.schedule.name,
        seed=a.seed,
        device=a.device,
    )
    trainer = Trainer(target, mc, tc, source=old.source, pairs=bank)
    if trainer.normalization != old.normalization:
        print(
            "flowscope: note: the new model's normalization differs from the old one's "
            "(the pairs are converted)",
            file=sys.stderr,
        )
    run_trainer(trainer, a, "reflow")
    model = trainer.model()
    after = straightness(model, REPORT_N, 50, seed=a.seed)
    q_old = quality_vs_steps(old, target, steps=(1, 2, 4), n=REPORT_N, seed=a.seed)
    q_new = quality_vs_steps(model, target, steps=(1, 2, 4), n=REPORT_N, seed=a.seed)
    model.metadata["data"] = dict(old.metadata.get("data") or {})
    model.metadata["class_names"] = None
    model.metadata["training"]["reflow"] = {
        "from": str(a.model),
        "pairs": a.pairs,
        "ode_steps": a.ode_steps,
        "before": before,
        "after": after,
        "energy_distance_by_euler_steps_before": q_old,
        "energy_distance_by_euler_steps_after": q_new,
    }
    out = save_model(model, a.out)
    if trainer.error:
        print(f"flowscope: {trainer.error}", file=sys.stderr)
    print(f"saved {out}  ({trainer.step_count} steps on {trainer.device}, {a.pairs} pairs)")
    print(
        f"kinetic - transport gap {before['gap']:.4f} -> {after['gap']:.4f}   "
        f"(kinetic energy {before['kinetic_energy']:.4f} -> {after['kinetic_energy']:.4f})"
    )
    for k in (1, 2, 4):
        print(f"energy distance with {k} Euler step(s): {q_old[k]:.4f} -> {q_new[k]:.4f}")
    return 1 if trainer.error else 0
