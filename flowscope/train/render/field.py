"""Field requests: the arrows (u_t, the SDE drift, the score) on a grid at one time t, and the
exact heatmap p_t behind them. Qt-free."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...core.samplers import guided, sigma_schedule_fn
from .context import RenderContext
from .fields import DataField, with_source
from .grids import density_grid, field_grids, grid_points, typical_length
from .requests import DENSITY_T_QUANTUM, FieldRequest, FieldResult


def render_field(
    r: FieldRequest, ctx: RenderContext, pause: Callable[[], None] | None = None
) -> FieldResult:
    """The arrows of the learned field (or the exact one, or learned - exact) and p_t at r.t.
    ``pause`` is not called: a field request takes ~20 ms."""
    y = None if r.y is None or r.y < 0 else int(r.y)
    w = {"guided": r.w, "conditional": 1.0, "unconditional": 0.0}[r.guide_part]
    pts, spts = field_grids(r.bounds, r.grid)
    n = pts.shape[0]
    both = torch.cat([pts, spts])
    tt = torch.full((both.shape[0],), float(r.t), dtype=pts.dtype)
    exact = with_source(r.exact, r.source)
    exact_g = guided(exact, y, w)
    u_exact, s_exact = exact_g.velocity(pts, tt[:n]), exact_g.score(both, tt)
    if r.snapshot is not None and r.field_source != "exact":
        learned = guided(DataField(ctx.model_for(r.snapshot, slot="field")), y, w)
        u_l, s_l = learned.velocity(pts, tt[:n]).double(), learned.score(both, tt).double()
        if r.field_source == "difference":
            u, s = u_l - u_exact, s_l - s_exact
        else:
            u, s = u_l, s_l
    else:
        u, s = u_exact, s_exact
    sig = float(sigma_schedule_fn(r.sigma, r.sigma_schedule)(tt[:1])[0])
    drift = u if r.drop_score_term else u + 0.5 * sig * sig * s[:n]
    exact_drift = u_exact if r.drop_score_term else u_exact + 0.5 * sig * sig * s_exact[:n]
    weight = exact.log_prob(both, float(r.t))
    weight = torch.exp(weight - weight.max())
    ref = (
        typical_length(u_exact, weight[:n]),
        typical_length(exact_drift, weight[:n]),
        typical_length(s_exact[n:], weight[n:]),
    )
    dens = exact_density(r, y, ctx)
    return FieldResult(
        r.generation, float(r.t), pts.float().numpy(), u.float().numpy(),
        drift.float().numpy(), s[n:].float().numpy(),
        dens.reshape(r.density_grid, -1).float().numpy(), r.bounds,
        spts.float().numpy(), ref,
    )  # fmt: skip


def exact_density(r: FieldRequest, y, ctx: RenderContext) -> torch.Tensor:
    """The exact heatmap, cached per t quantum: it does not change while training, and the
    play loop revisits the same times (checkerboard: ~90 ms per 96 x 96 grid; two moons
    ~18 ms, most of a field request)."""
    step = max(float(r.density_t_step), DENSITY_T_QUANTUM)
    tq = round(float(r.t) / step) * step
    exact = with_source(r.exact, r.source)
    key = (exact.fingerprint, round(tq, 6), y, float(r.w), r.density_kind,
           tuple(r.bounds), r.density_grid)  # fmt: skip
    hit = ctx.cached_density(key)
    if hit is not None:
        return hit
    dpts = grid_points(r.bounds, r.density_grid).double()
    dens = density_grid(exact, dpts, tq, y, r.w, r.density_kind).float()
    ctx.keep_density(key, dens)
    return dens
