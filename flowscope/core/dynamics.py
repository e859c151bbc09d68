"""Stochastic dynamics of the course's first lab: Brownian motion, Ornstein-Uhlenbeck, Langevin.

All are simulated with Euler-Maruyama, X_{k+1} = X_k + h b(X_k) + sigma sqrt(h) eps_k, from
(N, D) starting points, and return a :class:`DynamicsTrajectory` (times and frames).

- Brownian motion: dX = sigma dW (Var X_T = Var X_0 + sigma^2 T).
- Ornstein-Uhlenbeck: dX = -theta X dt + sigma dW; stationary law N(0, sigma^2 / (2 theta) I)
  (Euler-Maruyama's own stationary variance is sigma^2 / (theta (2 - theta h)), close for small h).
- Langevin: dX = (sigma^2 / 2) grad log p(X) dt + sigma dW has p as its stationary law. Toward a
  mixture target the exact score is ``ExactMarginal.score(x, t)`` at t = 1 (every component has
  a width), or at a t just below 1 (point components would have an infinite score at t = 1).
- Annealed Langevin: Langevin steps at a rising sequence of times t_k, each toward p_{t_k}, with a
  step size proportional to the smallest component variance s(t_k)^2 at that level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

#: time used for Langevin toward a target that has zero-width (point) components
T_POINT_TARGET = 0.98


@dataclass(frozen=True)
class DynamicsTrajectory:
    """t: (K,) times of the saved frames; xs: (K, N, D) positions (xs[0] is the start)."""

    t: torch.Tensor
    xs: torch.Tensor

    @property
    def x(self) -> torch.Tensor:
        """The final positions (N, D)."""
        return self.xs[-1]


def _generator(seed: int | None, device) -> torch.Generator:
    g = torch.Generator(device=device)
    if seed is None:
        g.seed()
    else:
        g.manual_seed(int(seed))
    return g


def _check(x0: torch.Tensor, duration: float, steps: int, sigma: float) -> None:
    if x0.ndim != 2:
        raise ValueError(f"x0 must be (N, D) points, got shape {tuple(x0.shape)}")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError("duration must be a positive number")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError("sigma must be a finite number >= 0")


def simulate_sde(
    drift: Callable[[torch.Tensor, float], torch.Tensor],
    x0: torch.Tensor,
    sigma: float,
    duration: float = 1.0,
    steps: int = 100,
    seed: int | None = None,
    save_every: int = 1,
) -> DynamicsTrajectory:
    """Euler-Maruyama for dX = drift(X, s) ds + sigma dW over s in [0, duration]."""
    _check(x0, duration, steps, sigma)
    steps = int(steps)
    h = duration / steps
    g = _generator(seed, x0.device)
    x = x0.clone()
    frames, times = [x], [0.0]
    every = max(1, int(save_every))
    with torch.no_grad():
        for k in range(steps):
            noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=g)
            x = x + h * drift(x, k * h) + sigma * math.sqrt(h) * noise
            if (k + 1) % every == 0 or k + 1 == steps:
                frames.append(x)
                times.append((k + 1) * h)
    return DynamicsTrajectory(torch.tensor(times, dtype=x0.dtype), torch.stack(frames))


def brownian_motion(
    x0: torch.Tensor,
    duration: float = 1.0,
    steps: int = 100,
    sigma: float = 1.0,
    seed: int | None = None,
    save_every: int = 1,
) -> DynamicsTrajectory:
    """dX = sigma dW from x0."""
    return simulate_sde(
        lambda x, s: torch.zeros_like(x), x0, sigma, duration, steps, seed, save_every
    )


def ornstein_uhlenbeck(
    x0: torch.Tensor,
    theta: float = 1.0,
    sigma: float = 1.0,
    duration: float = 5.0,
    steps: int = 500,
    seed: int | None = None,
    save_every: int = 1,
) -> DynamicsTrajectory:
    """dX = -theta X dt + sigma dW; stationary N(0, sigma^2 / (2 theta) I) for theta > 0."""
    if not (math.isfinite(theta) and theta > 0):
        raise ValueError("theta must be a positive number")
    return simulate_sde(lambda x, s: -theta * x, x0, sigma, duration, steps, seed, save_every)


def langevin(
    score: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    sigma: float = 1.0,
    duration: float = 5.0,
    steps: int = 500,
    seed: int | None = None,
    save_every: int = 1,
) -> DynamicsTrajectory:
    """dX = (sigma^2 / 2) score(X) dt + sigma dW (stationary law p where score = grad log p)."""
    c = 0.5 * sigma * sigma
    return simulate_sde(lambda x, s: c * score(x), x0, sigma, duration, steps, seed, save_every)


def langevin_to_target(
    exact,
    x0: torch.Tensor,
    sigma: float = 1.0,
    duration: float = 5.0,
    steps: int = 500,
    t: float | None = None,
    seed: int | None = None,
    save_every: int = 1,
) -> DynamicsTrajectory:
    """Langevin toward an ExactMarginal with its exact score at time t (default 1 when every
    component has a width, else ``T_POINT_TARGET``: p_t is then the data blurred by beta_t)."""
    if t is None:
        t = 1.0 if bool((exact.widths > 0).all()) else T_POINT_TARGET
    tt = float(t)
    return langevin(lambda x: exact.score(x, tt), x0, sigma, duration, steps, seed, save_every)


def annealed_langevin(
    exact,
    x0: torch.Tensor,
    levels: int = 20,
    steps_per_level: int = 20,
    step_size: float = 0.1,
    t_start: float = 0.0,
    t_end: float | None = None,
    seed: int | None = None,
) -> DynamicsTrajectory:
    """Langevin along p_t: at each of ``levels`` times t_k from t_start to t_end,
    ``steps_per_level`` steps x += e_k score_{t_k}(x) + sqrt(2 e_k) eps (sigma = sqrt 2 in
    :func:`langevin`), e_k = step_size * min_i s_i(t_k)^2. x0 should be drawn from p_{t_start}
    (N(0, I) at t = 0). Frames: one per level (t = the level's time), after its steps."""
    if int(levels) < 1 or int(steps_per_level) < 1:
        raise ValueError("levels and steps_per_level must be >= 1")
    if not (math.isfinite(step_size) and step_size > 0):
        raise ValueError("step_size must be a positive number")
    if x0.ndim != 2:
        raise ValueError(f"x0 must be (N, D) points, got shape {tuple(x0.shape)}")
    if t_end is None:
        t_end = 1.0 if bool((exact.widths > 0).all()) else T_POINT_TARGET
    g = _generator(seed, x0.device)
    ts = torch.linspace(float(t_start), float(t_end), int(levels), dtype=torch.float64)
    h2_min = float(exact.widths.pow(2).min())
    x = x0.clone()
    frames, times = [x], [float(t_start)]
    with torch.no_grad():
        for tk in ts.tolist():
            v = exact.schedule(torch.tensor(tk, dtype=torch.float64))
            s2 = max(float(v.alpha) ** 2 * h2_min + float(v.beta) ** 2, 1e-8)
            e = step_size * s2
            for _ in range(int(steps_per_level)):
                noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=g)
                x = x + e * exact.score(x, tk) + math.sqrt(2 * e) * noise
            frames.append(x)
            times.append(tk)
    return DynamicsTrajectory(torch.tensor(times, dtype=x0.dtype), torch.stack(frames))


def conditional_sde(
    schedule,
    z: torch.Tensor,
    x0: torch.Tensor,
    steps: int = 200,
    sigma: float = 1.0,
    sigma_schedule: str = "linear",
    seed: int | None = None,
) -> DynamicsTrajectory:
    """SDE trajectories of the conditional path toward a fixed z (MATH.md, "Sampling"):
    dX = [u_t(X | z) + sigma_t^2 / 2 grad log p_t(X | z)] dt + sigma_t dW from x0 at t = 0, by
    Euler-Maruyama at t_k = k / steps (t < 1, where beta_t > 0). Its marginals are those of the
    conditional path, N(alpha_t z, beta_t^2 I), for every sigma_t; a sigma_t that vanishes at
    t = 1 ('linear': sigma (1 - t), the default) keeps the stiff last steps stable. Frames at
    every step, t = k / steps; X at t = 1 ends near z."""
    from .paths import conditional_score, conditional_velocity
    from .samplers import sigma_schedule_fn

    if z.shape != x0.shape or x0.ndim != 2:
        raise ValueError("z and x0 must be (N, D) tensors of one shape")
    _check(x0, 1.0, steps, sigma)
    sig = sigma_schedule_fn(sigma, sigma_schedule)
    g = _generator(seed, x0.device)
    steps = int(steps)
    h = 1.0 / steps
    x = x0.clone()
    frames = [x]
    with torch.no_grad():
        for k in range(steps):
            t = torch.full((x.shape[0],), k * h, dtype=x.dtype, device=x.device)
            s_t = sig(t)[:, None]
            drift = conditional_velocity(schedule, x, z, t)
            if bool((s_t > 0).any()):
                drift = drift + 0.5 * s_t * s_t * conditional_score(schedule, x, z, t)
            noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=g)
            x = x + h * drift + s_t * math.sqrt(h) * noise
            frames.append(x)
    ts = torch.linspace(0.0, 1.0, steps + 1, dtype=x0.dtype)
    return DynamicsTrajectory(ts, torch.stack(frames))
