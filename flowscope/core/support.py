"""Sample quality that sees shape: the support share and the precision of samples, measured with
the exact p_data; and how to read an excess loss next to a Monte Carlo floor.

Energy distance barely separates round blobs from squares (a checkerboard learned as blobs scored
0.0017). The support share counts the samples that land where p_data is above a small fraction of
its maximum; the precision is the mean exact log p_data of the samples. Both are cheap with the
ExactMarginal. A target of point masses (zero widths) has no density at t = 1: it is measured at
``T_POINTS`` (the mixture blurred by beta_t), and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: where a target with zero-width components is measured (its p_1 is a sum of deltas)
T_POINTS = 0.99
#: the support is where p_data >= SUPPORT_FRACTION x its maximum
SUPPORT_FRACTION = 0.01


@dataclass(frozen=True)
class SupportReport:
    """support: share of samples inside the support; precision: mean log p_data of the samples
    (nats); t: the time p_t was measured at (1, or T_POINTS for point masses)."""

    support: float
    precision: float
    t: float
    n_samples: int

    def as_dict(self) -> dict:
        return {"support": self.support, "precision": self.precision, "t": self.t,
                "n_samples": self.n_samples}  # fmt: skip


def _time_for(exact) -> float:
    return T_POINTS if bool((exact.widths == 0).any()) else 1.0


def log_density_max(exact, t: float | None = None, res: int = 200) -> float:
    """max log p_t over a grid covering the components (and at the means): the scale that
    SUPPORT_FRACTION is relative to."""
    t = _time_for(exact) if t is None else float(t)
    mu = exact.means
    lo = mu.min(0).values - 3 * exact.widths.max() - 0.1
    hi = mu.max(0).values + 3 * exact.widths.max() + 0.1
    if exact.dim == 2:
        xs = torch.linspace(float(lo[0]), float(hi[0]), res, dtype=torch.float64)
        ys = torch.linspace(float(lo[1]), float(hi[1]), res, dtype=torch.float64)
        gx, gy = torch.meshgrid(xs, ys, indexing="ij")
        pts = torch.cat([torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), mu], 0)
    else:
        pts = mu
    return float(exact.log_prob(pts, t).max())


def support_report(samples, exact, fraction: float = SUPPORT_FRACTION) -> SupportReport:
    """The support share and precision of ``samples`` (N, D) against the exact target."""
    x = torch.as_tensor(samples).detach().to(torch.float64)
    if x.ndim != 2 or x.shape[1] != exact.dim or x.shape[0] < 1:
        raise ValueError(f"samples must be (N, {exact.dim}) points, got shape {tuple(x.shape)}")
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    finite = torch.isfinite(x).all(1)
    t = _time_for(exact)
    logp = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
    if finite.any():
        logp[finite] = exact.log_prob(x[finite], t)
    threshold = log_density_max(exact, t) + math.log(fraction)
    inside = float((logp >= threshold).double().mean())
    precision = float(logp[finite].mean()) if finite.any() else -math.inf
    return SupportReport(inside, precision, t, int(x.shape[0]))


def describe_excess(loss: float, floor: float, stderr: float | None) -> str:
    """'excess 0.0123 ± 0.0040' (two standard errors of the floor), or 'within noise of the
    floor' when the excess is smaller than that: a Monte Carlo floor can sit above a converged
    loss by chance, and a negative excess is not a real number to report."""
    excess = loss - floor
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        return f"excess {excess:.4f}"
    band = 2.0 * stderr
    if abs(excess) <= band:
        return f"excess within noise of the floor (|{excess:.4f}| <= {band:.4f})"
    return f"excess {excess:.4f} ± {band:.4f}"
