"""Sampling the Gaussian path, conditional targets, and velocity <-> score <-> noise (MATH.md).

Shapes: x, z, eps are (N, D) points or (N, C, H, W) images (any (N, ...)); t is a float or an
(N,) tensor. Functions broadcast t over the non-batch dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .schedules import Schedule, ScheduleValues, get_schedule

PARAMETERIZATIONS = ("velocity", "score", "noise")

#: conversions that divide by alpha_t (score/noise -> velocity) use t >= T_MIN_ALPHA
T_MIN_ALPHA = 1e-2
#: conversions that divide by beta_t-like terms use t <= 1 - T_EDGE (and t >= T_EDGE)
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
    score = -eps / beta_t (the DSM target; inf where beta_t = 0).
    """

    z: torch.Tensor
    eps: torch.Tensor
    t: torch.Tensor
    x_t: torch.Tensor
    velocity: torch.Tensor
    score: torch.Tensor


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
    return PathSample(z, eps, t, x_t, da * z + db * eps, -eps / b)


def conditional_velocity(
    schedule: Schedule | str, x: torch.Tensor, z: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """u_t(x | z) = (d_alpha_t - d_beta_t / beta_t * alpha_t) z + d_beta_t / beta_t * x."""
    v = get_schedule(schedule)(time_tensor(t, x.shape[0], x))
    a, b, da, db = (_col(q, x) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    return (da - db / b * a) * z + db / b * x


def conditional_score(
    schedule: Schedule | str, x: torch.Tensor, z: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """grad log p_t(x | z) = -(x - alpha_t z) / beta_t^2."""
    v = get_schedule(schedule)(time_tensor(t, x.shape[0], x))
    a, b = _col(v.alpha, x), _col(v.beta, x)
    return -(x - a * z) / (b * b)


# ----------------------------------------------------------------------------- conversions


def _values(schedule: Schedule, t: torch.Tensor, lo: float, hi: float, x: torch.Tensor):
    hi = min(hi, schedule.t_max_finite)
    v: ScheduleValues = schedule(t.clamp(lo, hi))
    return tuple(_col(q, x) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta))


def velocity_to_score(
    schedule: Schedule | str, u: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """s_t(x) = (alpha_t u - d_alpha_t x) / (beta_t^2 d_alpha_t - alpha_t beta_t d_beta_t).

    Well conditioned near t = 0 (CondOT: s = (t u - x) / (1 - t), i.e. -x at t = 0); t is
    clamped to t <= 1 - T_EDGE (and t >= t_min_convert for polynomial schedules).
    """
    sch = get_schedule(schedule)
    a, b, da, db = _values(sch, time_tensor(t, x.shape[0], x), sch.t_min_convert, 1 - T_EDGE, x)
    return (a * u - da * x) / (b * b * da - a * b * db)


def score_to_velocity(
    schedule: Schedule | str, s: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """u_t(x) = (beta_t^2 d_alpha_t / alpha_t - d_beta_t beta_t) s + (d_alpha_t / alpha_t) x.

    Divides by alpha_t, so t is clamped to t >= T_MIN_ALPHA.
    """
    sch = get_schedule(schedule)
    a, b, da, db = _values(sch, time_tensor(t, x.shape[0], x), T_MIN_ALPHA, 1.0, x)
    return (b * b * da / a - db * b) * s + (da / a) * x


def noise_to_score(
    schedule: Schedule | str, eps: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """s_t(x) = -eps / beta_t (t clamped to t <= 1 - T_EDGE)."""
    sch = get_schedule(schedule)
    _, b, _, _ = _values(sch, time_tensor(t, x.shape[0], x), 0.0, 1 - T_EDGE, x)
    return -eps / b


def score_to_noise(
    schedule: Schedule | str, s: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """eps = -beta_t s."""
    sch = get_schedule(schedule)
    _, b, _, _ = _values(sch, time_tensor(t, x.shape[0], x), 0.0, 1.0, x)
    return -b * s


def noise_to_velocity(
    schedule: Schedule | str, eps: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """u = d_alpha_t z_hat + d_beta_t eps, z_hat = (x - beta_t eps) / alpha_t (t >= T_MIN_ALPHA)."""
    sch = get_schedule(schedule)
    a, b, da, db = _values(sch, time_tensor(t, x.shape[0], x), T_MIN_ALPHA, 1.0, x)
    return da * (x - b * eps) / a + db * eps


def velocity_to_noise(
    schedule: Schedule | str, u: torch.Tensor, x: torch.Tensor, t: float | torch.Tensor
) -> torch.Tensor:
    """eps = -beta_t s_t(x) with s from :func:`velocity_to_score`."""
    return score_to_noise(schedule, velocity_to_score(schedule, u, x, t), x, t)


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
