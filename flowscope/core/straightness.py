"""How straight a model's flow is, and what that buys: few-step sample quality.

Along the model's ODE X_t (Euler, ``steps`` steps of h = 1 / steps, in data coordinates, from the
model's source):

- transport cost  C = E || X_1 - X_0 ||^2
- kinetic energy  E = int_0^1 E || u_t(X_t) ||^2 dt  (= h sum_k E || u_{t_k}(X_k) ||^2)

On the Euler path X_1 - X_0 = h sum_k u_k, so by Jensen E >= C exactly, with equality iff every
path is a straight line travelled at constant speed. ``E - C`` (the straightness gap) is what
minibatch OT and reflow reduce; :func:`quality_vs_steps` shows the effect (energy distance to
the target with 1, 2, 4, ... Euler steps). Re-exported by :mod:`flowscope.core.metrics`.
"""

from __future__ import annotations

import torch

QUALITY_STEPS = (1, 2, 4, 8, 16, 32, 64)


def _start(model, n: int, seed: int, x0: torch.Tensor | None) -> torch.Tensor:
    if x0 is not None:
        return x0.to(torch.float32)
    xn = model.source_sample(int(n), seed)
    norm = model.normalization
    if norm.is_identity:
        return xn
    return torch.tensor(norm.shift, dtype=torch.float32) + norm.scale * xn


def straightness(
    model, n: int = 2000, steps: int = 100, seed: int = 0, x0: torch.Tensor | None = None
) -> dict[str, float]:
    """{'transport_cost', 'kinetic_energy', 'gap'} of one Euler pass of the model's ODE (a
    FlowModel, or any field with ``velocity`` when ``x0`` (N, D) data-coordinate starts are
    given)."""
    if int(steps) < 1 or (x0 is None and int(n) < 1):
        raise ValueError("n and steps must be >= 1")
    x = _start(model, n, seed, x0)
    start = x
    h = 1.0 / int(steps)
    ke = 0.0
    with torch.no_grad():
        for k in range(int(steps)):
            t = torch.full((x.shape[0],), k * h, dtype=x.dtype)
            u = model.velocity(x, t)
            ke += h * float(u.square().sum(1).mean())
            x = x + h * u
        cost = float((x - start).square().sum(1).mean())
    return {"transport_cost": cost, "kinetic_energy": ke, "gap": ke - cost}


def transport_cost(model, n: int = 2000, steps: int = 100, seed: int = 0) -> float:
    """E || X_1 - X_0 ||^2 along the model's Euler ODE (data coordinates)."""
    return straightness(model, n, steps, seed)["transport_cost"]


def kinetic_energy(model, n: int = 2000, steps: int = 100, seed: int = 0) -> float:
    """int_0^1 E || u_t(X_t) ||^2 dt along the model's Euler ODE (>= transport_cost)."""
    return straightness(model, n, steps, seed)["kinetic_energy"]


def quality_vs_steps(
    model, target, steps=QUALITY_STEPS, n: int = 2000, seed: int = 0
) -> dict[int, float]:
    """{steps: energy distance} of Euler samples with each step count against fresh target
    samples (``target``: an ExactMarginal, or anything with ``sample(n, seed=)``)."""
    from .metrics import energy_distance

    ref = target.sample(int(n), seed=seed + 1)
    ref = ref.points if hasattr(ref, "points") else ref
    x0 = model.source_sample(int(n), seed)
    out = {}
    for k in steps:
        with torch.no_grad():
            gen = model.sample(int(n), steps=int(k), solver="euler", x0=x0, seed=seed)
        out[int(k)] = energy_distance(gen, ref)
    return out
