"""Gaussian probability-path schedules (MATH.md, "Gaussian conditional probability path").

p_t(x | z) = N(alpha_t z, beta_t^2 I) with alpha_0 = 0, beta_0 = 1 (noise) and alpha_1 = 1,
beta_1 = 0 (data). Every schedule gives exact derivatives d_alpha_t, d_beta_t (no finite
differences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ScheduleValues:
    """alpha_t, beta_t and their time derivatives, each shaped like t.

    beta_d_beta is the product beta_t * d_beta_t, written in closed form: it stays finite at
    t = 1 for the VP-like schedules, whose d_beta_t is infinite there (vp: -t, sqrt: -1/2), so
    the exact oracle and the conversions need no clamp of t where only the product appears.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    d_alpha: torch.Tensor
    d_beta: torch.Tensor
    beta_d_beta: torch.Tensor


def _as_tensor(t: float | torch.Tensor) -> torch.Tensor:
    if isinstance(t, torch.Tensor):
        return t if t.is_floating_point() else t.float()
    return torch.tensor(float(t))


class Schedule:
    """Base class. Subclasses implement ``_values(t)`` for a float tensor t in [0, 1].

    ``t_max`` is the largest t at which d_beta_t is finite and beta_t > 0 is safe to divide by;
    trainers and samplers clamp to it where beta_t or d_beta_t would blow up.
    """

    name: str = "schedule"
    label: str = "schedule"
    #: last time at which the derivatives are finite (1.0 when they are finite everywhere)
    t_max_finite: float = 1.0
    #: first time at which velocity -> score is well defined (d_alpha_t > 0 there)
    t_min_convert: float = 0.0

    def __call__(self, t: float | torch.Tensor) -> ScheduleValues:
        return self._values(_as_tensor(t))

    def _values(self, t: torch.Tensor) -> ScheduleValues:  # pragma: no cover - abstract
        raise NotImplementedError

    def alpha(self, t: float | torch.Tensor) -> torch.Tensor:
        return self(t).alpha

    def beta(self, t: float | torch.Tensor) -> torch.Tensor:
        return self(t).beta

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class CondOT(Schedule):
    """alpha_t = t, beta_t = 1 - t (linear interpolation; the default)."""

    name = "condot"
    label = "CondOT: alpha_t = t, beta_t = 1 - t"

    def _values(self, t: torch.Tensor) -> ScheduleValues:
        one = torch.ones_like(t)
        return ScheduleValues(t, 1.0 - t, one, -one, t - 1.0)


class Cosine(Schedule):
    """alpha_t = sin(pi t / 2), beta_t = cos(pi t / 2)."""

    name = "cosine"
    label = "cosine: alpha_t = sin(pi t/2), beta_t = cos(pi t/2)"

    def _values(self, t: torch.Tensor) -> ScheduleValues:
        a = 0.5 * math.pi * t
        s, c = torch.sin(a), torch.cos(a)
        return ScheduleValues(s, c, 0.5 * math.pi * c, -0.5 * math.pi * s, -0.5 * math.pi * s * c)


class VP(Schedule):
    """VP-like: alpha_t = t, beta_t = sqrt(1 - t^2) (alpha^2 + beta^2 ~ 1 near the ends).

    d_beta_t = -t / sqrt(1 - t^2) is infinite at t = 1, so ``t_max_finite`` < 1.
    """

    name = "vp"
    label = "VP-like: alpha_t = t, beta_t = sqrt(1 - t^2)"
    t_max_finite = 1.0 - 1e-3

    def _values(self, t: torch.Tensor) -> ScheduleValues:
        beta = torch.sqrt(torch.clamp(1.0 - t * t, min=0.0))
        d_beta = -t / beta
        return ScheduleValues(t, beta, torch.ones_like(t), d_beta, -t)


class SqrtCourse(Schedule):
    """The course's VP-like schedule: alpha_t = t, beta_t = sqrt(1 - t)."""

    name = "sqrt"
    label = "sqrt: alpha_t = t, beta_t = sqrt(1 - t)"
    t_max_finite = 1.0 - 1e-3

    def _values(self, t: torch.Tensor) -> ScheduleValues:
        beta = torch.sqrt(torch.clamp(1.0 - t, min=0.0))
        return ScheduleValues(t, beta, torch.ones_like(t), -0.5 / beta, torch.full_like(t, -0.5))


class Polynomial(Schedule):
    """alpha_t = t^n, beta_t = 1 - t^n, for n >= 1.

    n < 1 is refused: d_alpha_t = n t^(n - 1) is infinite at t = 0, so every sampler would
    start from an infinite velocity (all-NaN samples)."""

    def __init__(self, n: float = 2.0):
        if not (math.isfinite(n) and n >= 1):
            raise ValueError(
                f"polynomial schedule needs a power n >= 1 (got {n:g}): for n < 1 d_alpha_t is "
                "infinite at t = 0; use e.g. poly2 or poly3"
            )
        self.n = float(n)
        self.t_min_convert = 1e-3 if self.n > 1 else 0.0
        n_txt = f"{self.n:g}"
        self.name = f"poly{n_txt}"
        self.label = f"polynomial: alpha_t = t^{n_txt}, beta_t = 1 - t^{n_txt}"

    def _values(self, t: torch.Tensor) -> ScheduleValues:
        n = self.n
        tn = t**n
        # n t^(n-1) written so that t = 0 gives 0 (n > 1), not nan
        dtn = n * t ** (n - 1.0) if n != 1.0 else torch.ones_like(t)
        return ScheduleValues(tn, 1.0 - tn, dtn, -dtn, -(1.0 - tn) * dtn)


SCHEDULE_NAMES = ("condot", "cosine", "vp", "sqrt", "poly2", "poly3")


def get_schedule(spec: str | Schedule) -> Schedule:
    """Parse a schedule name: 'condot' (or 'linear'), 'cosine', 'vp', 'sqrt', 'polyN'."""
    if isinstance(spec, Schedule):
        return spec
    key = str(spec).strip().lower().replace("-", "").replace("_", "")
    if key in ("condot", "linear", "ot"):
        return CondOT()
    if key == "cosine":
        return Cosine()
    if key in ("vp", "vplike"):
        return VP()
    if key == "sqrt":
        return SqrtCourse()
    for prefix in ("polynomial", "poly"):
        if key.startswith(prefix):
            rest = key[len(prefix) :].lstrip(":") or "2"
            try:
                n = float(rest)
            except ValueError:
                break
            return Polynomial(n)
    raise ValueError(
        f"unknown schedule {spec!r}; choose one of {', '.join(SCHEDULE_NAMES)} (or polyN for t^N)"
    )
