"""The explorer's diagnostics on the compute side (Qt-free): requests, results and the pure
functions that turn (snapshot weights, the target's ExactMarginal) into what the Diagnostics
panel and the diagnostic heatmaps show. The math is :mod:`flowscope.core.diagnostics`; this
module only picks live-sized Monte Carlo counts and converts tensors to numpy.

Two kinds, each replaced by a newer request of its kind (stale work is dropped):
- ``diagnostics``: the panel (error by t, the decomposition at the sampler's settings, NLL, and
  memorization for point sets). Seconds of CPU: the compute side answers it last, and the
  window asks for it only every few seconds of training.
- ``diagmap``: one heatmap at time t (error map, continuity residual, log-density).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core import diagnostics as D
from ..core.diagnostics_samples import T_ZERO_WIDTH
from ..core.exact import ExactMarginal
from .trainer import Snapshot

#: the parts of a diagnostics request
PARTS = ("error_by_t", "decompose", "nll", "memorization")
#: the diagnostic heatmaps (density_source choices), see DiagMapRequest
MAP_KINDS = ("error", "error_unweighted", "continuity", "model_logp", "exact_logp")
#: the log-density heatmaps show this many nats below their maximum (lower is clipped)
LOGP_RANGE = 12.0


@dataclass(frozen=True)
class DiagnosticsRequest:
    """What the Diagnostics panel shows for ``snapshot``'s weights (live-sized counts: the CLI
    `flowscope diagnose` uses 4-8x more points for its report)."""

    KIND = "diagnostics"
    generation: int
    exact: ExactMarginal
    snapshot: Snapshot
    parts: tuple[str, ...] = ("error_by_t", "decompose", "nll")
    steps: int = 50
    solver: str = "heun"
    sigma: float = 0.0
    bins: int = 20
    error_n: int = 2048
    decompose_n: int = 800
    nll_n: int = 300
    nll_steps: int = 20
    seed: int = 0
    #: a point-set target's training points (K, 2), for the memorization part
    train_points: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DiagnosticsResult:
    generation: int
    step: int  # training step of the snapshot
    parts: tuple[str, ...]
    t: np.ndarray | None = None  # (bins,) bin centres
    field_mse: np.ndarray | None = None  # (bins,) E ||u_theta - u_t||^2 (data coordinates)
    excess_loss: np.ndarray | None = None  # (bins,) L(t) - L_min(t) (training units)
    objective: str | None = None
    decomposition: dict | None = None  # total, network, solver, floor, steps, solver, sigma
    nll: dict | None = None  # model, exact, model_se, exact_se, t, note
    samples: np.ndarray | None = None  # (n, 2) the field's decomposition samples (total)
    nearest: np.ndarray | None = None  # (n,) distance of each sample to its nearest train point
    memorization: dict | None = None  # share, nn_ratio, spacing, radius
    seconds: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DiagMapRequest:
    """One diagnostic heatmap at time t on a res x res grid over bounds (rows from the top).

    kind: 'error' ||u_theta - u_t||^2 p_t, 'error_unweighted' ||u_theta - u_t||^2,
    'continuity' d/dt p_t + div(p_t u_theta), 'model_logp' / 'exact_logp' log p_1 of the
    model's flow / the exact marginal (at t = T_ZERO_WIDTH for targets with zero-width
    components). snapshot None: only 'exact_logp' can be computed."""

    KIND = "diagmap"
    generation: int
    exact: ExactMarginal
    snapshot: Snapshot | None
    kind: str
    t: float
    bounds: tuple[float, float, float, float]
    res: int = 64
    logp_steps: int = 20


@dataclass(frozen=True)
class DiagMapResult:
    generation: int
    kind: str
    step: int
    t: float  # the time the map is for (log-densities: the data end)
    values: np.ndarray  # (res, res) float32, row 0 = top
    bounds: tuple[float, float, float, float]
    levels: tuple[float, float]  # the colour scale: lo, hi (symmetric for 'continuity')
    diverging: bool
    label: str  # what the colour bar measures
    summary: str  # one line for the status (integral, relative residual)
    seconds: float


#: (id(exact), steps, solver, sigma, n, seed) -> (exact, (solver part, floor)), oldest first
_REFERENCE_PARTS: dict[tuple, tuple] = {}


def _np(x) -> np.ndarray | None:
    return None if x is None else x.detach().to("cpu", torch.float64).numpy()


def compute_diagnostics(
    r: DiagnosticsRequest, model, pause: Callable[[], None] | None = None
) -> DiagnosticsResult:
    """The panel's numbers for ``model`` (a FlowModel holding the snapshot's weights).
    ``pause()`` is called between the parts (the compute side serves urgent requests there)."""
    unknown = set(r.parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown diagnostics parts {sorted(unknown)}; use some of {PARTS}")
    out: dict = {"seconds": {}}
    sec = out["seconds"]

    def step() -> float:
        if pause is not None:
            pause()
        return time.perf_counter()

    if "error_by_t" in r.parts:
        t0 = step()
        e = D.error_by_t(model, r.exact, bins=r.bins, n=r.error_n, seed=r.seed)
        out.update(t=_np(e.t), field_mse=_np(e.field_mse), excess_loss=_np(e.excess_loss))
        out["objective"] = e.objective
        sec["error_by_t"] = time.perf_counter() - t0
    if "decompose" in r.parts or "memorization" in r.parts:
        t0 = step()
        norm = getattr(model, "normalization", None)  # the reference runs on the model's path
        key = (
            id(r.exact), r.steps, r.solver, float(r.sigma), r.decompose_n, r.seed,
            getattr(getattr(model, "schedule", None), "name", None),
            None if norm is None else tuple(np.asarray(norm.shift, float).ravel()),
            None if norm is None else tuple(np.asarray(norm.scale, float).ravel()),
        )  # fmt: skip
        cached = _REFERENCE_PARTS.get(key)
        d = D.decompose(
            model, r.exact, r.steps, r.solver, r.sigma, n=r.decompose_n, seed=r.seed,
            reference_parts=None if cached is None else cached[1],
        )  # fmt: skip
        if cached is None:  # the exact field's two runs do not change while the network trains
            _REFERENCE_PARTS[key] = (r.exact, (d.solver, d.floor))  # holds exact: id stays unique
            while len(_REFERENCE_PARTS) > 16:
                _REFERENCE_PARTS.pop(next(iter(_REFERENCE_PARTS)))
        out["decomposition"] = {
            "total": d.total, "network": d.network, "solver": d.solver, "floor": d.floor,
            "steps": d.steps, "solver_name": d.solver_name, "sigma": d.sigma,
            "fine": f"{d.fine_solver} {d.fine_steps}", "n": d.n,
        }  # fmt: skip
        out["samples"] = d.samples.to(torch.float32).numpy()
        sec["decompose"] = time.perf_counter() - t0
        if "memorization" in r.parts and r.train_points is not None and len(r.train_points) > 1:
            t0 = step()
            tr = torch.as_tensor(np.asarray(r.train_points, np.float64))
            fresh = r.exact.sample(r.decompose_n, seed=r.seed + 3, dtype=torch.float64)
            m = D.memorization(d.samples, tr, fresh)
            out["nearest"] = torch.cdist(d.samples, tr).min(1).values.numpy()
            out["memorization"] = {
                "share": m.share, "nn_ratio": m.nn_ratio, "spacing": m.spacing,
                "radius": m.radius, "fresh_share": m.fresh_share,
            }  # fmt: skip
            sec["memorization"] = time.perf_counter() - t0
    if "nll" in r.parts:
        t0 = step()
        v = D.nll(model, r.exact, n=r.nll_n, seed=r.seed, steps=r.nll_steps)
        out["nll"] = {
            "model": v.model, "exact": v.exact, "model_se": v.model_se,
            "exact_se": v.exact_se, "t": v.t, "note": v.note,
        }  # fmt: skip
        sec["nll"] = time.perf_counter() - t0
    return DiagnosticsResult(r.generation, r.snapshot.step, tuple(r.parts), **out)


def _logp_t(exact: ExactMarginal) -> float:
    return T_ZERO_WIDTH if bool((exact.widths == 0).any()) else 1.0


def compute_map(r: DiagMapRequest, model) -> DiagMapResult:
    """One diagnostic heatmap (see DiagMapRequest); ``model``: the snapshot's FlowModel or None."""
    from ..core.metrics import log_likelihood
    from ..core.reference import reference_for

    if r.kind not in MAP_KINDS:
        raise ValueError(f"unknown diagnostic map {r.kind!r}; use one of {MAP_KINDS}")
    if model is None and r.kind != "exact_logp":
        raise ValueError(f"the {r.kind} heatmap needs a trained model: press Train first")
    t0 = time.perf_counter()
    step = 0 if r.snapshot is None else r.snapshot.step
    diverging = False
    t = float(r.t)
    if r.kind in ("error", "error_unweighted"):
        m = D.error_map(model, r.exact, t, r.bounds, r.res, weighted=r.kind == "error")
        vals = m.values
        label = "‖u_θ − u_t‖² p_t" if r.kind == "error" else "‖u_θ − u_t‖²"
        share = "share of E‖u_θ − u_t‖² in view" if r.kind == "error" else "∫ over the view"
        summary = f"{label} at t = {t:.2f}: {share} {m.integral:.3g}"
    elif r.kind == "continuity":
        c = D.continuity_residual(model, r.exact, t, r.bounds, r.res)
        vals, diverging = c.values, True
        label = "∂p_t/∂t + ∇·(p_t u_θ)"
        summary = (
            f"continuity residual at t = {t:.2f}: ‖r‖₁ = {c.integral:.3g} "
            f"({100 * c.relative:.1f}% of ‖∂p_t/∂t‖₁)"
        )
    else:
        t = _logp_t(r.exact)
        pts = D.grid(r.bounds, r.res)
        if r.kind == "exact_logp":
            ref = reference_for(model, r.exact) if model is not None else D.PathReference(r.exact)
            with torch.no_grad():
                vals = ref.log_prob(pts, t).reshape(r.res, r.res)
            label = f"exact log p_{t:g}(x)"
        else:
            from ..core.diagnostics_samples import _Warped

            ref = reference_for(model, r.exact)
            warped = _Warped(model, t, ref.source_log_prob)
            lp = log_likelihood(warped, pts.to(torch.float32), steps=r.logp_steps)
            vals = lp.to(torch.float64).reshape(r.res, r.res)
            label = f"model log p_{t:g}(x)"
        summary = f"{label}: max {float(vals.max()):.2f} nats"
    v = vals.detach().to(torch.float64).nan_to_num(nan=0.0)
    finite = v[torch.isfinite(v)]
    if r.kind in ("model_logp", "exact_logp"):
        hi = float(finite.max()) if finite.numel() else 0.0
        lo = max(float(finite.min()) if finite.numel() else hi - LOGP_RANGE, hi - LOGP_RANGE)
        v = v.clamp(min=lo)
    elif diverging:
        a = float(finite.abs().max()) if finite.numel() else 0.0
        lo, hi = -a, a
    else:
        lo, hi = 0.0, float(finite.max()) if finite.numel() else 0.0
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
    return DiagMapResult(
        r.generation, r.kind, step, t, v.to(torch.float32).numpy(), r.bounds,
        (lo, hi), diverging, label, summary, time.perf_counter() - t0,
    )  # fmt: skip


REQUESTS = (DiagnosticsRequest, DiagMapRequest)
KINDS = (DiagnosticsRequest.KIND, DiagMapRequest.KIND)
