"""Regular grids over a view's bounds, and what is evaluated on them (the exact density, the
arrows' typical length). Qt-free."""

from __future__ import annotations

import torch

from ...core.exact import ExactMarginal


def grid_points(bounds, n: int, ny: int | None = None) -> torch.Tensor:
    """(ny*n, 2) points of an n x ny grid over bounds (ny = n when None), rows from the TOP
    (y decreasing)."""
    x0, x1, y0, y1 = bounds
    xs = torch.linspace(x0, x1, n)
    ys = torch.linspace(y1, y0, n if ny is None else ny)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def field_grids(bounds, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The arrow grid over bounds with square cells and about n x n points (a tall view gets
    fewer columns and more rows: the cost of a field request stays that of n x n), and the
    same grid shifted by half a cell in x and y (the cell centres, for the score arrows)."""
    x0, x1, y0, y1 = (float(b) for b in bounds)
    wx, wy = x1 - x0, y1 - y0
    step = (wx * wy) ** 0.5 / (n - 1)
    nx, ny = max(2, round(wx / step) + 1), max(2, round(wy / step) + 1)
    pts = grid_points((x0, x1, y0, y1), nx, ny).double()
    dx, dy = wx / (nx - 1), wy / (ny - 1)
    centres = grid_points((x0 + dx / 2, x1 - dx / 2, y0 + dy / 2, y1 - dy / 2), nx - 1, ny - 1)
    return pts, centres.double()


def density_grid(exact: ExactMarginal, pts: torch.Tensor, t: float, y, w: float, kind: str):
    """p_t(x [| y]) at pts, or the guided target p_t(x | y)^w p_t(x)^(1 - w) normalized to sum
    to 1 over pts (it has no closed-form normalizer)."""
    if kind == "guided" and y is not None:
        logp = w * exact.log_prob(pts, t, y) + (1.0 - w) * exact.log_prob(pts, t)
        p = torch.exp(logp - logp.max())
        return p / p.sum()
    return exact.log_prob(pts, t, y).exp()


def typical_length(v: torch.Tensor, weight: torch.Tensor) -> float:
    """The root mean square arrow length where the mass is: sqrt(sum_i p_t(x_i) |v_i|^2 /
    sum_i p_t(x_i)) over the grid (0 when nothing is finite). The max, or a plain quantile,
    is set by the score far from the data, and shrank the arrows near it to dots."""
    sq = (v.double() ** 2).sum(dim=1)
    ok = torch.isfinite(sq) & torch.isfinite(weight)
    total = float(weight[ok].sum())
    if total <= 0.0:
        return 0.0
    return float((weight[ok] * sq[ok]).sum() / total) ** 0.5
