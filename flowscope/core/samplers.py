"""ODE and SDE samplers from t = 0 (noise) to t = 1 (data), and classifier-free guidance.

- ODE  dX_t = u_t(X_t) dt with Euler, Heun or RK4 (n steps, h = 1/n).
- SDE  dX_t = [u_t(X_t) + sigma_t^2 / 2 s_t(X_t)] dt + sigma_t dW_t by Euler-Maruyama:
  X_{t+h} = X_t + h (u + sigma_t^2 / 2 s) + sigma_t sqrt(h) eps.
  ``drop_score_term=True`` leaves out sigma_t^2 / 2 s: the marginals are then wrong (a classic bug
  that flowscope shows on purpose).
- CFG  u~_t(x | y) = (1 - w) u_t(x | empty) + w u_t(x | y); the score is guided the same way.

A *field* (core/fields.py: the :class:`Field` protocol, and :class:`ScoreField` for the SDE) is
any object with ``velocity(x, t, y=None)`` (and ``score(x, t, y=None)``) taking an (N, ...)
tensor x (points (N, D) or images (N, C, H, W)) and an (N,) tensor t (ExactMarginal and
FlowModel both are). Particles are integrated in chunks of ``chunk_size`` rows so 50k particles
never need more than a bounded batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast, overload

import torch

from .fields import Field, Label, ScoreField

SOLVERS = ("euler", "heun", "rk4")
SIGMA_SCHEDULES = ("constant", "linear", "sqrt")
DEFAULT_CHUNK = 16384


@dataclass(frozen=True)
class Trajectory:
    """x: final positions (N, ...) at t = 1 (points (N, D) or images (N, C, H, W)); t: (K,) times
    of the saved frames; xs: (K, N, ...) positions at those times, or None unless
    ``return_trajectory``."""

    x: torch.Tensor
    t: torch.Tensor
    xs: torch.Tensor | None = None


class GuidedField:
    """Classifier-free guidance of a field: (1 - w) f(x | empty) + w f(x | y).

    w = 0 is unconditional, w = 1 conditional, w > 1 amplified guidance. ``y`` is an int or an
    (N,) tensor; the unconditional call passes y=None to the base field. Its score (and
    velocity_and_score) need a base field with a score (a :class:`ScoreField`); the ODE guides
    velocity-only fields too.
    """

    def __init__(self, field: Field, y: Label, w: float = 1.0):
        self.field, self.y, self.w = field, y, float(w)

    @property
    def _scored(self) -> ScoreField:
        return cast(ScoreField, self.field)  # score asked: the base must have one

    def _mix(self, fn: str, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        y = self.y if y is None else y
        cond = getattr(self.field, fn)
        if self.w == 1.0:
            return cond(x, t, y)
        if self.w == 0.0:
            return cond(x, t, None)
        return (1.0 - self.w) * cond(x, t, None) + self.w * cond(x, t, y)

    def velocity(self, x, t, y=None):
        return self._mix("velocity", x, t, y)

    def score(self, x, t, y=None):
        return self._mix("score", x, t, y)

    def velocity_and_score(self, x, t, y=None):
        y = self.y if y is None else y
        if self.w == 1.0:
            return velocity_and_score(self._scored, x, t, y)
        u0, s0 = velocity_and_score(self._scored, x, t, None)
        if self.w == 0.0:
            return u0, s0
        u1, s1 = velocity_and_score(self._scored, x, t, y)
        return (1 - self.w) * u0 + self.w * u1, (1 - self.w) * s0 + self.w * s1


def velocity_and_score(field: ScoreField, x: torch.Tensor, t: torch.Tensor, y: Label = None):
    """(u, s) from one evaluation when the field offers it (the oracle, a network)."""
    both = getattr(field, "velocity_and_score", None)
    if both is not None:
        return both(x, t, y)
    return field.velocity(x, t, y), field.score(x, t, y)


@overload
def guided(field: ScoreField, y: Label = None, w: float = 1.0) -> ScoreField: ...
@overload
def guided(field: Field, y: Label = None, w: float = 1.0) -> Field: ...
def guided(field: Field, y: Label = None, w: float = 1.0) -> Field:
    """``field`` itself when no label is given, else a :class:`GuidedField` (a ScoreField
    when ``field`` is one)."""
    return field if y is None else GuidedField(field, y, w)


#: guidance scales accepted in a list (the GUI's grid columns, the CLI's --grid-w)
W_RANGE = (-5.0, 20.0)
MAX_WS = 8


def parse_guidance_scales(text: str) -> tuple[float, ...]:
    """'0, 1, 3' -> (0.0, 1.0, 3.0): at most MAX_WS finite scales in W_RANGE, separated by commas
    (or semicolons). The one parser for the GUI and the CLI; raises ValueError saying what to
    type."""
    try:
        ws = tuple(float(v) for v in str(text).replace(";", ",").split(",") if v.strip())
    except ValueError:
        msg = f"guidance scales must be numbers separated by commas, got {text!r}"
        raise ValueError(msg) from None
    if not ws:
        raise ValueError("give at least one guidance scale w, e.g. 0, 1, 3")
    if len(ws) > MAX_WS:
        raise ValueError(f"at most {MAX_WS} guidance scales (columns)")
    lo, hi = W_RANGE
    if any(not (lo <= w <= hi) for w in ws):
        raise ValueError(f"guidance scales w must lie in [{lo:g}, {hi:g}]")
    return ws


def sigma_schedule_fn(sigma: float, schedule: str | Callable = "constant") -> Callable:
    """sigma_t as a function of an (N,) t: 'constant' sigma, 'linear' sigma (1 - t),
    'sqrt' sigma sqrt(1 - t), or a user callable t -> sigma_t."""
    if callable(schedule):
        return schedule
    s = float(sigma)
    if s < 0 or not math.isfinite(s):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    if schedule == "constant":
        return lambda t: torch.full_like(t, s)
    if schedule == "linear":
        return lambda t: s * (1.0 - t)
    if schedule == "sqrt":
        return lambda t: s * torch.sqrt((1.0 - t).clamp_min(0.0))
    raise ValueError(f"unknown sigma schedule {schedule!r}; use one of {SIGMA_SCHEDULES}")


def _check_steps(steps: int) -> int:
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return steps


def _frames(steps: int, save_every: int) -> list[int]:
    idx = list(range(0, steps + 1, max(1, save_every)))
    return idx if idx[-1] == steps else idx + [steps]


def _ode_chunk(field: Field, x, y, steps, solver, frames):
    n = x.shape[0]
    h = 1.0 / steps
    out = [x] if 0 in frames else []
    fr = set(frames)

    def u(xx, tt):
        return field.velocity(xx, torch.full((n,), tt, dtype=x.dtype, device=x.device), y)

    for k in range(steps):
        t = k * h
        if solver == "euler":
            x = x + h * u(x, t)
        elif solver == "heun":
            k1 = u(x, t)
            k2 = u(x + h * k1, t + h)
            x = x + 0.5 * h * (k1 + k2)
        else:  # rk4
            k1 = u(x, t)
            k2 = u(x + 0.5 * h * k1, t + 0.5 * h)
            k3 = u(x + 0.5 * h * k2, t + 0.5 * h)
            k4 = u(x + h * k3, t + h)
            x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        if k + 1 in fr:
            out.append(x)
    return x, out


def _sde_chunk(field: ScoreField, x, y, steps, sig, drop_score_term, generator, frames):
    n = x.shape[0]
    h = 1.0 / steps
    out = [x] if 0 in frames else []
    fr = set(frames)
    sqrt_h = math.sqrt(h)
    shape = (n,) + (1,) * (x.ndim - 1)
    for k in range(steps):
        t = torch.full((n,), k * h, dtype=x.dtype, device=x.device)
        s_t = sig(t).reshape(shape)  # (N, 1, ...) broadcasts over points and images
        if not drop_score_term and bool((s_t > 0).any()):
            u, score = velocity_and_score(field, x, t, y)
            drift = u + 0.5 * s_t * s_t * score
        else:
            drift = field.velocity(x, t, y)
        noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        x = x + h * drift + s_t * sqrt_h * noise
        if k + 1 in fr:
            out.append(x)
    return x, out


def _slice_y(y, r0, r1):
    if isinstance(y, torch.Tensor) and y.ndim > 0:
        return y[r0:r1]
    return y


def _run(step_fn, x0, steps, y, return_trajectory, save_every, chunk_size):
    steps = _check_steps(steps)
    if x0.ndim < 2:
        raise ValueError(
            f"x0 must be (N, D) points or (N, C, H, W) images, got shape {tuple(x0.shape)}"
        )
    frames = _frames(steps, save_every) if return_trajectory else [steps]
    chunk = max(1, int(chunk_size or DEFAULT_CHUNK))
    finals, trajs = [], []
    with torch.no_grad():
        for r0 in range(0, x0.shape[0], chunk):
            r1 = min(x0.shape[0], r0 + chunk)
            xf, fr = step_fn(x0[r0:r1], _slice_y(y, r0, r1), frames)
            finals.append(xf)
            if return_trajectory:
                trajs.append(torch.stack(fr))
    ts = torch.tensor(frames, dtype=x0.dtype) / steps
    xs = torch.cat(trajs, dim=1) if return_trajectory else None
    return Trajectory(torch.cat(finals), ts, xs)


def sample_ode(
    field: Field,
    x0: torch.Tensor,
    steps: int = 50,
    solver: str = "heun",
    y=None,
    w: float = 1.0,
    return_trajectory: bool = False,
    save_every: int = 1,
    chunk_size: int | None = None,
) -> Trajectory:
    """Integrate dX_t = u_t(X_t) dt from x0 at t = 0 to t = 1."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    f = guided(field, y, w)
    steps = _check_steps(steps)
    return _run(
        lambda x, yy, fr: _ode_chunk(f, x, yy, steps, solver, fr),
        x0,
        steps,
        y,
        return_trajectory,
        save_every,
        chunk_size,
    )


def sample_sde(
    field: ScoreField,
    x0: torch.Tensor,
    steps: int = 50,
    sigma: float = 1.0,
    sigma_schedule: str | Callable = "constant",
    drop_score_term: bool = False,
    y=None,
    w: float = 1.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
    save_every: int = 1,
    chunk_size: int | None = None,
) -> Trajectory:
    """Euler-Maruyama for dX_t = [u + sigma_t^2 / 2 s] dt + sigma_t dW_t from t = 0 to t = 1."""
    sig = sigma_schedule_fn(sigma, sigma_schedule)
    if generator is None:
        generator = torch.Generator(device=x0.device)
        if seed is not None:
            generator.manual_seed(int(seed))
        else:
            generator.seed()
    f = guided(field, y, w)
    steps = _check_steps(steps)
    return _run(
        lambda x, yy, fr: _sde_chunk(f, x, yy, steps, sig, drop_score_term, generator, fr),
        x0,
        steps,
        y,
        return_trajectory,
        save_every,
        chunk_size,
    )


def sample(
    field: ScoreField,
    x0: torch.Tensor,
    steps: int = 50,
    solver: str = "heun",
    sigma: float = 0.0,
    sigma_schedule: str | Callable = "constant",
    drop_score_term: bool = False,
    y=None,
    w: float = 1.0,
    seed: int | None = None,
    return_trajectory: bool = False,
    save_every: int = 1,
    chunk_size: int | None = None,
) -> Trajectory:
    """ODE when sigma == 0 (with ``solver``), Euler-Maruyama SDE otherwise."""
    if float(sigma) == 0.0 and not callable(sigma_schedule):
        return sample_ode(field, x0, steps, solver, y, w, return_trajectory, save_every, chunk_size)
    return sample_sde(
        field,
        x0,
        steps,
        sigma,
        sigma_schedule,
        drop_score_term,
        y,
        w,
        seed,
        None,
        return_trajectory,
        save_every,
        chunk_size,
    )
