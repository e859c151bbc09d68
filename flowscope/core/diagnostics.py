"""Diagnostics: where, when and why a field is wrong, measured against the exact answer.

A *field* is anything with ``velocity(x, t, y=None)`` (a FlowModel, an ExactMarginal, a guided
wrapper); ``exact`` is the target's ExactMarginal in data coordinates (``target.exact`` or the
``model.target`` a saved model keeps). When the field is (or wraps) a FlowModel, the referee is
the exact marginal of *the model's own path* (its schedule; a model trained on normalized data
starts from N(shift, scale^2 I) in data coordinates), see :mod:`flowscope.core.reference`, so a
perfect network scores zero. Every function validates its input and returns a frozen dataclass.

- :func:`error_by_t`  field error E_{x ~ p_t} ||u_field - u_t||^2 per time bin, and the excess
  training loss L(t) - L_min(t) of the objective the model was trained with;
- :func:`error_map`   ||u_field - u_t||^2 (times p_t) on a grid at one t;
- :func:`continuity_residual`  d/dt p_t + div(p_t u_field) with the exact p_t (0 for u_t);
- :func:`decompose`, :func:`nll`, :func:`memorization` (:mod:`.diagnostics_samples`).

Grids are (res, res) with rows from the TOP (y decreasing) and columns x increasing, over
bounds (x_min, x_max, y_min, y_max), like the explorer's images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .losses import per_sample_loss
from .metrics import _velocity_and_div, marginal_target, training_draw
from .paths import sample_path
from .reference import (
    CHUNK,
    PathReference,
    check_field,
    check_int,
    field_dtype,
    reference_for,
    velocity_of,
)
from .samplers import guided


@dataclass(frozen=True)
class ErrorByT:
    """Per time bin k (t in [k / bins, (k + 1) / bins)), all (bins,) float64 tensors:

    t: bin centres; field_mse: E_{x ~ p_t} ||u_field(x, t) - u_t(x)||^2 (data coordinates, t
    stratified uniformly in the bin) and field_mse_se its Monte Carlo standard error.
    For the objective the field was trained with (``objective``; a FlowModel's own, 'velocity'
    for other fields; None with guidance w != 1): loss = lambda(t) E || prediction - target ||^2
    on fresh path samples (t as training draws it), loss_floor = L_min(t)
    (``metrics.loss_floor_by_t``, the same draw, so the two pair sample by sample) and
    excess_loss = loss - loss_floor with its standard error. Losses are in the training units
    (network coordinates): for the velocity objective field_mse ~= scale^2 * excess_loss.
    Bins that training never reaches (t > 1 - t_eps) hold nan.
    """

    t: torch.Tensor
    field_mse: torch.Tensor
    field_mse_se: torch.Tensor
    excess_loss: torch.Tensor | None
    excess_loss_se: torch.Tensor | None
    loss: torch.Tensor | None
    loss_floor: torch.Tensor | None
    objective: str | None
    weighting: str | None
    scale: float
    n: int


@dataclass(frozen=True)
class FieldMap:
    """values: (res, res) float64 on the grid over bounds (rows from the top); t; what: a label.
    integral: sum of values times the cell area (for a weighted error map the share of
    E_{p_t} ||u_field - u_t||^2 inside the box; for a residual its L1 norm)."""

    values: torch.Tensor
    bounds: tuple[float, float, float, float]
    t: float
    what: str
    integral: float


@dataclass(frozen=True)
class ContinuityResidual(FieldMap):
    """values = d/dt p_t + div(p_t u_field) with the exact p_t; dp_dt: d/dt p_t (res, res);
    relative: ||values||_1 / ||dp_dt||_1 (0 for the exact field, ~1 for an unrelated one)."""

    dp_dt: torch.Tensor | None = None
    relative: float = math.nan


# ----------------------------------------------------------------------------- validation


def _time(t) -> float:
    t = float(t)
    if not (0.0 <= t <= 1.0):
        raise ValueError(f"t must be a time in [0, 1] (0 noise, 1 data), got {t}")
    return t


def _bounds(bounds) -> tuple[float, float, float, float]:
    try:
        b = tuple(float(v) for v in bounds)
    except (TypeError, ValueError):
        b = ()
    if len(b) != 4 or not all(math.isfinite(v) for v in b) or b[1] <= b[0] or b[3] <= b[2]:
        raise ValueError(f"bounds must be (x_min, x_max, y_min, y_max), min < max; got {bounds}")
    return b[0], b[1], b[2], b[3]


def grid(bounds, res: int) -> torch.Tensor:
    """(res * res, 2) float64 points of a res x res grid over bounds, rows from the TOP."""
    x0, x1, y0, y1 = _bounds(bounds)
    xs = torch.linspace(x0, x1, res, dtype=torch.float64)
    ys = torch.linspace(y1, y0, res, dtype=torch.float64)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def _cell(bounds, res: int) -> float:
    x0, x1, y0, y1 = bounds
    return (x1 - x0) / (res - 1) * (y1 - y0) / (res - 1)


def _bin_stats(values: torch.Tensor, idx: torch.Tensor, bins: int):
    """Per-bin mean and standard error of the mean (nan where a bin is empty / has one value)."""
    counts = torch.bincount(idx, minlength=bins).to(torch.float64)
    sums = torch.bincount(idx, weights=values, minlength=bins)
    sq = torch.bincount(idx, weights=values * values, minlength=bins)
    mean = torch.where(counts > 0, sums / counts.clamp_min(1), torch.full_like(sums, math.nan))
    var = (sq - counts * mean.nan_to_num() ** 2) / (counts - 1).clamp_min(1)
    se = torch.where(counts > 1, var.clamp_min(0).sqrt() / counts.clamp_min(1).sqrt(), math.nan)
    return mean, se


# ----------------------------------------------------------------------------- error by t


def _training_weighting(model) -> str:
    cfg = ((model.metadata.get("training") or {}).get("config")) or {}
    return str(cfg.get("score_weighting") or "beta2")


def _excess(field, ref: PathReference, n: int, y, w: float, seed: int):
    """(objective, weighting, per-sample model loss, per-sample floor, training t) or None."""
    from .flow_model import FlowModel

    if float(w) != 1.0:  # a guided field is not what any objective trains
        return None
    model = field if isinstance(field, FlowModel) else None
    objective = model.parameterization if model is not None else "velocity"
    weighting = _training_weighting(model) if model is not None else "beta2"
    inner = ref.inner
    z, t, eps = training_draw(inner, objective, n, seed, y)
    path = sample_path(inner.schedule, z, t, eps)
    floor_pred = marginal_target(inner, path, objective, y)
    if model is not None:  # the raw network output, as the trainer regresses it
        pred = torch.empty_like(z)
        with torch.no_grad():
            for r0 in range(0, n, CHUNK):
                r1 = min(n, r0 + CHUNK)
                xt = path.x_t[r0:r1].to(model.device, torch.float32)
                tt = t[r0:r1].to(model.device, torch.float32)
                out = model.net(xt, tt, model._labels(y, r1 - r0))
                pred[r0:r1] = out.to("cpu", torch.float64)
    else:  # a data-space velocity, in the reference's network coordinates
        x_data = ref._out(path.x_t)
        pred = velocity_of(guided(field, y, w), x_data, t) / ref.scale
    loss = per_sample_loss(pred, path, objective, weighting)
    floor = per_sample_loss(floor_pred, path, objective, weighting)
    return objective, weighting, loss, floor, t


def error_by_t(field, exact, bins: int = 20, n: int = 8192, y=None, w: float = 1.0, seed: int = 0):
    """Field error and excess loss per time bin (see :class:`ErrorByT`).

    n Monte Carlo points in all (n // bins per bin for the field error; n training draws for
    the losses, seed + 1). y: a class (x ~ p_t(. | y), fields guided with scale w)."""
    check_field(field)
    bins = check_int(bins, "bins")
    n = check_int(n, f"n (at least one point per bin, bins = {bins})", bins)
    ref = reference_for(field, exact)
    f, r = guided(field, y, w), guided(ref, y, w)
    gen = torch.Generator().manual_seed(int(seed))
    counts = torch.full((bins,), n // bins, dtype=torch.long)
    counts[: n % bins] += 1
    idx = torch.repeat_interleave(torch.arange(bins), counts)
    t = (idx + torch.rand(n, dtype=torch.float64, generator=gen)) / bins
    x = ref.sample_t(t, gen, y)
    u_f = velocity_of(f, x, t)
    with torch.no_grad():
        u_r = r.velocity(x, t)
    mse, mse_se = _bin_stats((u_f - u_r).square().sum(1), idx, bins)
    centres = (torch.arange(bins, dtype=torch.float64) + 0.5) / bins
    ex = _excess(field, ref, n, y, w, int(seed) + 1)
    if ex is None:
        return ErrorByT(centres, mse, mse_se, None, None, None, None, None, None, ref.scale, n)
    objective, weighting, loss, floor, tt = ex
    tidx = (tt * bins).floor().long().clamp(0, bins - 1)
    loss_b, _ = _bin_stats(loss, tidx, bins)
    floor_b, _ = _bin_stats(floor, tidx, bins)
    excess, excess_se = _bin_stats(loss - floor, tidx, bins)
    weighting = weighting if objective == "score" else None
    return ErrorByT(
        centres, mse, mse_se, excess, excess_se, loss_b, floor_b, objective, weighting, ref.scale, n
    )


# ----------------------------------------------------------------------------- maps


def error_map(
    field, exact, t: float, bounds, res: int = 128, y=None, weighted: bool = True, w: float = 1.0
) -> FieldMap:
    """||u_field(x, t) - u_t(x)||^2 on a res x res grid, times p_t(x) (data coordinates) when
    ``weighted``: where the error matters for the samples. values: (res, res)."""
    check_field(field)
    t, res, box = _time(t), check_int(res, "res", 2), _bounds(bounds)
    ref = reference_for(field, exact)
    pts = grid(box, res)
    u_f = velocity_of(guided(field, y, w), pts, t)
    with torch.no_grad():
        if weighted:
            fr = ref.evaluate(pts, t, y)
            u_r = fr.velocity if y is None or w == 1.0 else guided(ref, y, w).velocity(pts, t)
        else:
            u_r = guided(ref, y, w).velocity(pts, t)
    err = (u_f - u_r).square().sum(1)
    if weighted:
        err = err * fr.log_prob.exp()
    values = err.reshape(res, res)
    what = "||u_field - u_t||^2 p_t" if weighted else "||u_field - u_t||^2"
    return FieldMap(values, box, t, what, float(values.sum()) * _cell(box, res))


def _dlogp_dt(ref: PathReference, pts: torch.Tensor, t: float, h: float = 1e-5) -> torch.Tensor:
    """d/dt log p_t at pts (second-order differences of the closed form in float64)."""

    def lp(tt: float) -> torch.Tensor:
        return ref.log_prob(pts, tt)

    if t - h < 0.0:
        return (-3 * lp(t) + 4 * lp(t + h) - lp(t + 2 * h)) / (2 * h)
    if t + h > 1.0:
        return (3 * lp(t) - 4 * lp(t - h) + lp(t - 2 * h)) / (2 * h)
    return (lp(t + h) - lp(t - h)) / (2 * h)


def continuity_residual(field, exact, t: float, bounds, res: int = 128) -> ContinuityResidual:
    """r(x) = d/dt p_t(x) + div(p_t u_field)(x) on a res x res grid, with the exact p_t.

    Written p_t (d/dt log p_t + grad log p_t . u_field + div u_field): d/dt log p_t by central
    differences of the closed form in t (h = 1e-5, float64; one-sided at t = 0 and 1), grad
    log p_t the exact score, div u_field the exact Jacobian trace (autograd) or central
    differences for fields without a graph (networks).
    Zero for the exact field u_t (the continuity equation), so a nonzero r shows where the
    field moves mass other than the target path does."""
    check_field(field)
    t, res, box = _time(t), check_int(res, "res", 2), _bounds(bounds)
    ref = reference_for(field, exact)
    pts = grid(box, res)
    n = pts.shape[0]
    with torch.no_grad():
        fr = ref.evaluate(pts, t)
        logp, score = fr.log_prob, fr.score
        dlogp = _dlogp_dt(ref, pts, t)
    dt = field_dtype(field)
    div = torch.empty(n, dtype=torch.float64)
    u = torch.empty_like(pts)
    for r0 in range(0, n, CHUNK):
        r1 = min(n, r0 + CHUNK)
        xb = pts[r0:r1].to(dt)
        ub, db = _velocity_and_div(field, xb, torch.full_like(xb[:, 0], t), None, "auto")
        u[r0:r1], div[r0:r1] = ub.to(torch.float64), db.to(torch.float64)
    p = logp.exp()
    dp_dt = p * dlogp
    values = (dp_dt + p * ((score * u).sum(1) + div)).reshape(res, res)
    dp_dt = dp_dt.reshape(res, res)
    l1 = float(values.abs().sum()) * _cell(box, res)
    scale = float(dp_dt.abs().sum()) * _cell(box, res)
    rel = l1 / scale if scale > 0 else math.nan
    return ContinuityResidual(
        values, box, t, "d/dt p_t + div(p_t u_field)", l1, dp_dt=dp_dt, relative=rel
    )


from .diagnostics_samples import (  # noqa: E402  (re-exported: one public module)
    Decomposition,
    Memorization,
    NLLResult,
    decompose,
    memorization,
    nll,
)

__all__ = [
    "ContinuityResidual",
    "Decomposition",
    "ErrorByT",
    "FieldMap",
    "Memorization",
    "NLLResult",
    "PathReference",
    "continuity_residual",
    "decompose",
    "error_by_t",
    "error_map",
    "memorization",
    "nll",
    "reference_for",
]
