"""Target requests: the heatmap of p_data for the canvas and the loss floor L_min, once per
target, objective, schedule or label dropout. Qt-free."""

from __future__ import annotations

import time
from collections.abc import Callable

from .context import RenderContext
from .grids import grid_points
from .requests import TargetRequest, TargetResult


def render_target(
    r: TargetRequest, ctx: RenderContext, pause: Callable[[], None] | None = None
) -> TargetResult:
    """p_data on a (G, G) grid (row 0 = top) and the Monte Carlo loss floor (its error as text
    when it cannot be computed). Uses no model: ``ctx`` and ``pause`` are not needed."""
    from ...core.metrics import loss_floor_estimate

    t0 = time.perf_counter()
    pts = grid_points(r.bounds, r.density_grid).double()
    dens = r.exact.log_prob(pts, 1.0).exp().reshape(r.density_grid, -1).float().numpy()
    floor = stderr = error = None
    try:
        est = loss_floor_estimate(
            r.exact.with_schedule(r.schedule), r.objective, r.label_dropout, n=r.floor_n,
            weighting=r.score_weighting,
        )  # fmt: skip
        floor, stderr = est.value, est.stderr
    except ValueError as e:
        error = str(e)
    return TargetResult(
        r.generation, dens, r.bounds, floor, stderr, error, time.perf_counter() - t0
    )
