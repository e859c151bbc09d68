"""Diagnostics on samples: error decomposition, likelihood and memorization (re-exported by
:mod:`flowscope.core.diagnostics`, which documents the conventions)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .metrics import energy_distance, log_likelihood
from .reference import check_field, check_int, field_dtype, reference_for
from .samplers import SOLVERS, sample_ode, velocity_and_score

#: the fine reference solver of :func:`decompose`: RK4 with max(this, steps) steps (ODE; on the
#: presets RK4 50 lands within ~2e-6 of RK4 400, closer than Heun with 200 steps) ...
FINE_ODE_STEPS = 50
#: ... or Euler-Maruyama with at least this many (SDE)
FINE_SDE_STEPS = 500
#: likelihoods of targets with zero-width components (point sets) are taken at this t < 1
T_ZERO_WIDTH = 0.99
#: RK4 steps of the likelihood ODE (on a time grid refined towards the data end)
NLL_STEPS = 40
#: a sample is "memorized" when it lies within this fraction of the typical training spacing
MEMORIZATION_RADIUS = 0.2


@dataclass(frozen=True)
class Decomposition:
    """Energy distances to fresh target samples (all from the same noise x0):
    total: the field with ``steps`` of ``solver`` (and ``sigma``); network: the field with the
    fine reference solver; solver: the exact field with ``steps``; floor: the exact field with
    the fine solver (what n samples can resolve). network - floor is the network's share,
    solver - floor the step count's. samples: the field's ``total`` samples (n, D)."""

    total: float
    network: float
    solver: float
    floor: float
    steps: int
    solver_name: str
    sigma: float
    fine_steps: int
    fine_solver: str
    n: int
    samples: torch.Tensor


@dataclass(frozen=True)
class NLLResult:
    """Mean negative log-likelihood (nats per point) of n fresh points x ~ p_t at time ``t``:
    model from the field's flow (``metrics.log_likelihood``), exact = -E log p_t(x) in closed
    form (the entropy floor; model >= exact up to Monte Carlo and solver error), each with its
    standard error. t = 1 unless the target has zero-width components (then T_ZERO_WIDTH)."""

    model: float
    exact: float
    model_se: float
    exact_se: float
    t: float
    n: int
    steps: int
    note: str


@dataclass(frozen=True)
class Memorization:
    """share: fraction of samples within ``radius`` x spacing of a training point, where
    spacing is the median distance of a training point to its nearest other training point;
    nn_ratio: median nearest-training-point distance of the samples over that of the baseline
    (fresh target samples if given, else the training points' leave-one-out distances):
    ~0 for a model that copies its training points, ~1 for one that generalizes like fresh data.
    fresh_share: ``share`` of the fresh points (nan without them)."""

    share: float
    nn_ratio: float
    spacing: float
    radius: float
    baseline: str
    fresh_share: float
    n_samples: int
    n_train: int


# ----------------------------------------------------------------------------- decomposition


def decompose(
    field,
    exact,
    steps: int = 50,
    solver: str = "heun",
    sigma: float = 0.0,
    n: int = 4000,
    seed: int = 0,
    reference_parts: tuple[float, float] | None = None,
) -> Decomposition:
    """Split the sample error of ``field`` (energy distance to the target) into the network's
    and the solver's share (see :class:`Decomposition`). The fine reference is RK4 with
    max(FINE_ODE_STEPS, steps) steps. sigma > 0 uses the SDE dX = [u + sigma^2 / 2 s] dt +
    sigma dW (Euler-Maruyama, sigma constant; ``solver`` is then ignored) with m * steps fine
    steps, m = max(4, ceil(FINE_SDE_STEPS / steps)), and one Brownian path for all four runs:
    each coarse increment is the sum of its m fine ones.

    ``reference_parts``: (solver, floor) from an earlier call with the same exact target,
    steps, solver, sigma, n and seed: they do not depend on ``field``, so a live view that
    re-measures a training network pays only for the network's two runs."""
    check_field(field)
    steps, n = check_int(steps, "steps"), check_int(n, "n", 2)
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma}")
    if sigma > 0 and not (hasattr(field, "velocity_and_score") or hasattr(field, "score")):
        raise ValueError("sigma > 0 samples the SDE, which needs the field's score too")
    ref = reference_for(field, exact)
    gen = torch.Generator().manual_seed(int(seed))
    x0 = ref.source_sample(n, gen)
    target = ref.sample(n, generator=gen, dtype=torch.float64)
    if sigma == 0.0:
        fine_steps, fine_solver = max(FINE_ODE_STEPS, steps), "rk4"
    else:
        fine_steps, fine_solver = steps * max(4, math.ceil(FINE_SDE_STEPS / steps)), "euler"

    def run(f, k: int, how: str) -> torch.Tensor:
        x = x0.to(field_dtype(f))
        if sigma == 0.0:
            out = sample_ode(f, x, k, how).x
        else:
            out = _coupled_em(f, x, k, fine_steps // k, sigma, int(seed) + 1)
        return out.to(torch.float64)

    def dist(x: torch.Tensor) -> float:
        bad = ~torch.isfinite(x).all(1)
        if bool(bad.any()):
            return math.inf
        return energy_distance(x, target, max_points=None)

    samples = run(field, steps, solver)
    if reference_parts is None:
        reference_parts = (dist(run(ref, steps, solver)), dist(run(ref, fine_steps, fine_solver)))
    return Decomposition(
        total=dist(samples),
        network=dist(run(field, fine_steps, fine_solver)),
        solver=float(reference_parts[0]),
        floor=float(reference_parts[1]),
        steps=steps,
        solver_name=solver if sigma == 0.0 else "euler-maruyama",
        sigma=sigma,
        fine_steps=fine_steps,
        fine_solver=fine_solver if sigma == 0.0 else "euler-maruyama",
        n=n,
        samples=samples,
    )


def _coupled_em(field, x: torch.Tensor, steps: int, m: int, sigma: float, seed: int):
    """Euler-Maruyama with ``steps`` steps on a Brownian path drawn as steps * m fine N(0, h / m)
    increments from ``seed``: every step count sees the same path (the samplers' own SDE draws
    fresh noise per step)."""
    gen = torch.Generator().manual_seed(seed)
    h = 1.0 / steps
    with torch.no_grad():
        for k in range(steps):
            t = torch.full((x.shape[0],), k * h, dtype=x.dtype)
            u, s = velocity_and_score(field, x, t)
            dw = torch.zeros(x.shape, dtype=torch.float64)
            for _ in range(m):  # one draw per fine step: torch's stream depends on the size
                dw += torch.randn(x.shape, dtype=torch.float64, generator=gen)
            dw = dw.to(x.dtype) * math.sqrt(h / m)
            x = x + h * (u + 0.5 * sigma * sigma * s) + sigma * dw
    return x


# ----------------------------------------------------------------------------- likelihood


class _Warped:
    """The flow of ``field`` on [0, t_end] as a flow on s in [0, 1]: t = t_end (1 - (1 - s)^2),
    v(x, s) = dt/ds u(x, t(s)). Same endpoints, so the same likelihood; the steps get finer
    towards the data end, where the field of a sharp target changes fastest."""

    def __init__(self, field, t_end: float, source_log_prob):
        self.field, self.t_end, self.source_log_prob = field, float(t_end), source_log_prob

    def velocity(self, x, s, y=None):
        t = self.t_end * (1.0 - (1.0 - s) ** 2)
        dt_ds = 2.0 * self.t_end * (1.0 - s)
        return dt_ds[:, None] * self.field.velocity(x, t, y)


def nll(field, exact, n: int = 2000, seed: int = 0, steps: int = NLL_STEPS) -> NLLResult:
    """The field's negative log-likelihood of n fresh target points beside the exact one.

    Both at t = 1, or at T_ZERO_WIDTH when the target has zero-width components (p_1 has no
    density there): points x ~ p_t, model: -log p_t(x) of the flow from the field's source
    (RK4 with ``steps`` steps back to t = 0), exact: -log p_t(x) in closed form."""
    check_field(field)
    n, steps = check_int(n, "n", 2), check_int(steps, "steps")
    ref = reference_for(field, exact)
    zero = bool((ref.exact.widths == 0).any())
    t_end = T_ZERO_WIDTH if zero else 1.0
    gen = torch.Generator().manual_seed(int(seed))
    x = ref.sample_t(torch.full((n,), t_end, dtype=torch.float64), gen)
    with torch.no_grad():
        lp_exact = ref.log_prob(x, t_end)
    warped = _Warped(field, t_end, ref.source_log_prob)
    lp_model = log_likelihood(warped, x.to(field_dtype(field)), steps=steps).to(torch.float64)
    note = (
        f"the target has zero-width components, so both are evaluated at t = {t_end}"
        if zero
        else "evaluated at t = 1 (the data)"
    )

    def se(v: torch.Tensor) -> float:
        return float(v.std() / math.sqrt(v.shape[0]))

    return NLLResult(
        model=float(-lp_model.mean()),
        exact=float(-lp_exact.mean()),
        model_se=se(lp_model),
        exact_se=se(lp_exact),
        t=t_end,
        n=n,
        steps=steps,
        note=note,
    )


# ----------------------------------------------------------------------------- memorization


def _points(x, name: str, min_n: int = 1) -> torch.Tensor:
    p = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if p.ndim != 2 or p.shape[0] < min_n:
        raise ValueError(f"{name} must be an (N, D) array with N >= {min_n}, got {tuple(p.shape)}")
    p = p.to("cpu", torch.float64)
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} contains NaN or Inf; drop those rows first")
    return p


def _nearest(a: torch.Tensor, b: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Distance from each row of a to its nearest row of b, (N,) (row blocks of ~4M pairs)."""
    rows = max(1, (1 << 22) // max(1, b.shape[0]))
    out = torch.empty(a.shape[0], dtype=torch.float64)
    for r0 in range(0, a.shape[0], rows):
        r1 = min(a.shape[0], r0 + rows)
        d = torch.cdist(a[r0:r1], b, compute_mode="donot_use_mm_for_euclid_dist")
        if exclude_self:
            d[torch.arange(r1 - r0), torch.arange(r0, r1)] = math.inf
        out[r0:r1] = d.min(1).values
    return out


def memorization(
    samples, train_points, fresh_points=None, radius: float = MEMORIZATION_RADIUS
) -> Memorization:
    """How much generated ``samples`` (N, D) copy a finite training set ``train_points`` (K, D)
    (a point-set target, h = 0), see :class:`Memorization`. fresh_points (M, D): samples of the
    distribution the training points came from; None uses the training points' leave-one-out
    nearest distances as the baseline."""
    s = _points(samples, "samples")
    tr = _points(train_points, "train_points", 2)
    if s.shape[1] != tr.shape[1]:
        raise ValueError(f"samples are {s.shape[1]}-D but train_points {tr.shape[1]}-D")
    radius = float(radius)
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive number, got {radius}")
    loo = _nearest(tr, tr, exclude_self=True)
    spacing = float(loo.median())
    if not spacing > 0:
        raise ValueError("the training points coincide (typical spacing 0); remove duplicates")
    d_s = _nearest(s, tr)
    share = float((d_s < radius * spacing).double().mean())
    if fresh_points is None:
        base, baseline, fresh_share = spacing, "leave-one-out", math.nan
    else:
        fr = _points(fresh_points, "fresh_points")
        if fr.shape[1] != tr.shape[1]:
            raise ValueError(f"fresh_points are {fr.shape[1]}-D but train_points {tr.shape[1]}-D")
        d_f = _nearest(fr, tr)
        base, baseline = float(d_f.median()), "fresh"
        fresh_share = float((d_f < radius * spacing).double().mean())
    ratio = float(d_s.median()) / base if base > 0 else math.nan
    return Memorization(
        share, ratio, spacing, radius, baseline, fresh_share, s.shape[0], tr.shape[0]
    )
