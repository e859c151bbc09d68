"""Sampling the Gaussian path, conditional targets, and velocity <-> score <-> noise (MATH.md).

Shapes: x, z, eps are (N, D) points or (N, C, H, W) images (any (N, ...)); t is a float or an
(N,) tensor. Functions broadcast t over the non-batch dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .schedules import Schedule, ScheduleValues, get_schedule

PARAMETERIZATIONS = ("velocity", "score", "noise")

#: a network converted score/noise -> velocity (dividing by alpha_t) is evaluated at t >= this
T_MIN_ALPHA = 1e-2
#: one converted velocity/noise -> score (dividing by a beta_t-like term) at t <= 1 - this
T_EDGE = 1e-3


def time_tensor(t: float | torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    """t as an (n,) tensor on like's device and dtype; accepts a float, 0-d or (n,) tensor."""
    if isinstance(t, torch.Tensor):
        t = t.to(device=like.device, dtype=like.dtype)
        if t.ndim == 0:
            return t.expand(n)
        if t.shape != (n,):
            raise ValueError(f"t must be a float or a ({n},) tensor, got shape {tuple(t.shape)}")
        return t
    return torch.full((n,), float(t), device=like.device, dtype=like.dtype)


def _col(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape an (N,) schedule value to broadcast against x of shape (N, ...)."""
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


@dataclass(frozen=True)
class PathSample:
    """A draw from the conditional path: x_t = alpha_t z + beta_t eps.

    z: (N, ...) data (points (N, D) or images (N, C, H, W)), eps and x_t: shaped like z, t: (N,);
    velocity = d_alpha_t z + d_beta_t eps (the CFM target u_t(x_t | z)),
    score = -eps / beta_t (the DSM target; inf where beta_t = 0), beta: beta_t, (N,).
    """

    z: torch.Tensor
    eps: torch.Tensor
    t: torch.Tensor
    x_t: torch.Tensor
    velocity: torch.Tensor
    score: torch.Tensor
    beta: torch.Tensor


def sample_path(
    schedule: Schedule | str,
    z: torch.Tensor,
    t: float | torch.Tensor | None = None,
    eps: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> PathSample:
    """Draw x_t ~ p_t(. | z) with t ~ Unif[0, 1] unless t is given."""
    sch = get_schedule(schedule)
    n = z.shape[0]
    if t is None:
        t = torch.rand(n, device=z.device, dtype=z.dtype, generator=generator)
    t = time_tensor(t, n, z)
    if eps is None:
        eps = torch.randn(z.shape, device=z.device, dtype=z.dtype, generator=generator)
    v = sch(t)
    a, b, da, db = (_col(q, z) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    x_t = a * z + b * eps
    return PathSample(z, eps, t, x_t, da * z + db * eps, -eps / b, v.beta)


def conditional_velocity(
    schedule: Schedule | str, x: torch.Tensor, z: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """u_t(x | z) = (d_alpha_t - d_beta_t / beta_t * alpha_t) z + d_beta_t / beta_t * x.

    Public API: the conditional vector field toward a fixed data point z (the CFM training
    target at x = x_t). x, z: (N, ...); t: float or (N,). Not finite where beta_t = 0 (t = 1)."""
    v = get_schedule(schedule)(time_tensor(t, x.shape[0], x))
    a, b, da, db = (_col(q, x) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    return (da - db / b * a) * z + db / b * x


def conditional_score(
    schedule: Schedule | str, x: torch.Tensor, z: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """grad log p_t(x | z) = -(x - alpha_t z) / beta_t^2.

    Public API: the conditional score toward a fixed z (the DSM target). Infinite at t = 1."""
    v = get_schedule(schedule)(time_tensor(t, x.shape[0], x))
    a, b = _col(v.alpha, x), _col(v.beta, x)
    return -(x - a * z) / (b * b)


def conditional_trajectory(
    schedule: Schedule | str, z: torch.Tensor, x0: torch.Tensor, steps: int = 50
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ODE of the conditional field u_t(. | z) from x0 at t = 0, in closed form:
    X_t = alpha_t z + beta_t x0 (it solves dX/dt = u_t(X | z) exactly). Returns (t, xs) with
    t (steps + 1,) and xs (steps + 1, N, ...); X_1 = z."""
    sch = get_schedule(schedule)
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if z.shape != x0.shape:
        raise ValueError(f"z and x0 must have one shape, got {tuple(z.shape)}, {tuple(x0.shape)}")
    ts = torch.linspace(0.0, 1.0, int(steps) + 1, dtype=z.dtype, device=z.device)
    v = sch(ts)
    shape = (-1,) + (1,) * z.ndim
    xs = v.alpha.reshape(shape) * z[None] + v.beta.reshape(shape) * x0[None]
    return ts, xs


# ----------------------------------------------------------------------------- conversions
#
# Each conversion uses the exact coefficients at the t it is given: the value converted must have
# been evaluated at that same t. Where a coefficient is singular (dividing by alpha_t = 0 at t = 0,
# by beta_t = 0 at t = 1) the result is not finite; :func:`conversion_time` gives the nearest t
# at which a network should be evaluated *and* converted (FlowModel does both at that time).


def _coeffs(schedule: Schedule, t: torch.Tensor, x: torch.Tensor):
    v: ScheduleValues = schedule(t)
    return tuple(_col(q, x) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta, v.beta_d_beta))


def conversion_window(schedule: Schedule | str, source: str, target: str) -> tuple[float, float]:
    """[t_lo, t_hi] where converting ``source`` -> ``target`` is finite and well conditioned.

    score/noise -> velocity divide by alpha_t (t >= T_MIN_ALPHA); velocity -> score/noise divide
    by beta_t^2 d_alpha_t - alpha_t beta_t d_beta_t (t <= 1 - T_EDGE, and t >= t_min_convert
    where d_alpha_0 = 0); noise -> score divides by beta_t; noise -> velocity needs a finite
    d_beta_t (t <= t_max_finite)."""
    sch = get_schedule(schedule)
    for p in (source, target):
        if p not in PARAMETERIZATIONS:
            raise ValueError(f"unknown parameterization {p!r}; use one of {PARAMETERIZATIONS}")
    lo, hi = 0.0, 1.0
    pair = (source, target)
    if source != "velocity" and target == "velocity":
        lo = T_MIN_ALPHA
    if source == "velocity" and target != "velocity":
        lo, hi = sch.t_min_convert, (1.0 - T_EDGE) if target == "score" else sch.t_max_finite
    if pair == ("noise", "score"):
        hi = 1.0 - T_EDGE
    if pair == ("noise", "velocity"):
        hi = sch.t_max_finite
    return lo, hi


def conversion_time(
    schedule: Schedule | str, t: torch.Tensor, source: str, target: str
) -> torch.Tensor:
    """t clamped into :func:`conversion_window`: where to evaluate a ``source`` network (and
    convert its output) to get a ``target`` near t. Returns t itself when nothing is clamped."""
    lo, hi = conversion_window(schedule, source, target)
    if lo <= 0.0 and hi >= 1.0:
        return t
    return t.clamp(lo, hi)


def velocity_to_score(
    schedule: Schedule | str, u: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """s_t(x) = (alpha_t u - d_alpha_t x) / (beta_t^2 d_alpha_t - alpha_t beta_t d_beta_t).

    Well conditioned near t = 0 (CondOT: s = (t u - x) / (1 - t), i.e. -x at t = 0); singular at
    t = 1 (and at t = 0 for polynomial schedules)."""
    sch = get_schedule(schedule)
    a, b, da, _, bdb = _coeffs(sch, time_tensor(t, x.shape[0], x), x)
    return (a * u - da * x) / (b * b * da - a * bdb)


def score_to_velocity(
    schedule: Schedule | str, s: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """u_t(x) = (beta_t^2 d_alpha_t / alpha_t - beta_t d_beta_t) s + (d_alpha_t / alpha_t) x.

    Divides by alpha_t: singular at t = 0, where the score (-x for p_0 = N(0, I)) says nothing
    about the data."""
    sch = get_schedule(schedule)
    a, b, da, _, bdb = _coeffs(sch, time_tensor(t, x.shape[0], x), x)
    return (b * b * da / a - bdb) * s + (da / a) * x


def noise_to_score(
    schedule: Schedule | str, eps: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """s_t(x) = -eps / beta_t (singular at t = 1)."""
    sch = get_schedule(schedule)
    _, b, _, _, _ = _coeffs(sch, time_tensor(t, x.shape[0], x), x)
    return -eps / b


def score_to_noise(
    schedule: Schedule | str, s: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """eps = -beta_t s."""
    sch = get_schedule(schedule)
    _, b, _, _, _ = _coeffs(sch, time_tensor(t, x.shape[0], x), x)
    return -b * s


def noise_to_velocity(
    schedule: Schedule | str, eps: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """u = d_alpha_t z_hat + d_beta_t eps, z_hat = (x - beta_t eps) / alpha_t.

    Singular at t = 0 (alpha_t = 0)."""
    sch = get_schedule(schedule)
    a, b, da, db, _ = _coeffs(sch, time_tensor(t, x.shape[0], x), x)
    return da * (x - b * eps) / a + db * eps


def velocity_to_noise(
    schedule: Schedule | str, u: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """eps = -beta_t s_t(x) = -(alpha_t u - d_alpha_t x) / (beta_t d_alpha_t - alpha_t d_beta_t).

    Written without the score, so it stays finite at t = 1 where beta_t = 0
    (CondOT: eps = x - u)."""
    sch = get_schedule(schedule)
    a, b, da, db, _ = _coeffs(sch, time_tensor(t, x.shape[0], x), x)
    return -(a * u - da * x) / (b * da - a * db)


def convert(
    schedule: Schedule | str,
    value: torch.Tensor,
    x: torch.Tensor,
    t: float | torch.Tensor,
    source: str,
    target: str,
) -> torch.Tensor:
    """Convert a network output between parameterizations ('velocity', 'score', 'noise')."""
    for p in (source, target):
        if p not in PARAMETERIZATIONS:
            raise ValueError(f"unknown parameterization {p!r}; use one of {PARAMETERIZATIONS}")
    if source == target:
        return value
    table = {
        ("velocity", "score"): velocity_to_score,
        ("score", "velocity"): score_to_velocity,
        ("noise", "score"): noise_to_score,
        ("score", "noise"): score_to_noise,
        ("noise", "velocity"): noise_to_velocity,
        ("velocity", "noise"): velocity_to_noise,
    }
    return table[(source, target)](schedule, value, x, t)


def evaluate_as(
    schedule: Schedule | str,
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    source: str,
    kinds: Sequence[str],
) -> dict[str, torch.Tensor]:
    """{kind: value} for a network ``fn(t) -> output`` of parameterization ``source`` at x.

    Each kind is evaluated *and* converted at :func:`conversion_time` (t itself wherever the
    conversion is regular), so a value is never converted with another time's coefficients;
    kinds that need the same time share one network evaluation."""
    done: list[tuple[torch.Tensor, torch.Tensor]] = []
    out = {}
    for kind in kinds:
        tc = conversion_time(schedule, t, source, kind)
        for t_prev, v_prev in done:
            if tc is t_prev or torch.equal(tc, t_prev):
                value = v_prev
                break
        else:
            value = fn(tc)
            done.append((tc, value))
        out[kind] = convert(schedule, value, x, tc, source, kind)
    return out
