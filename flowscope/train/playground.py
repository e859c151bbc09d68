"""The SDE playground's simulations (the course's first lab), Qt-free: run on a worker thread by
``ui/playground.py``, never on the GUI thread.

Processes (``flowscope.core.dynamics``, Euler-Maruyama from X_0 ~ N(0, I)):
- 'brownian': dX = sigma dW; Var X_T = 1 + sigma^2 T per coordinate
- 'ou': dX = -theta X dt + sigma dW; stationary N(0, sigma^2 / (2 theta) I)
- 'langevin': dX = (sigma^2 / 2) grad log p(X) dt + sigma dW toward the target, exact score
- 'annealed': Langevin along p_t for t rising from 0 to (nearly) 1
The result carries the reference density of the x coordinate the histogram is compared with.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core import dynamics

PROCESSES = ("brownian", "ou", "langevin", "annealed")
LABELS = {
    "brownian": "Brownian motion  dX = σ dW",
    "ou": "Ornstein-Uhlenbeck  dX = −θX dt + σ dW",
    "langevin": "Langevin  dX = σ²/2 ∇log p(X) dt + σ dW",
    "annealed": "annealed Langevin along p_t",
}
FRAMES = 120  # frames kept for the animation


@dataclass(frozen=True)
class PlaygroundRequest:
    generation: int
    process: str = "ou"
    n: int = 2000
    steps: int = 500
    duration: float = 5.0
    theta: float = 1.0
    sigma: float = 1.0
    seed: int = 0
    exact: Any = None  # an ExactMarginal: the target of the Langevin processes
    bounds: tuple[float, float, float, float] = (-3.5, 3.5, -3.5, 3.5)
    density_grid: int = 80


@dataclass(frozen=True)
class PlaygroundResult:
    generation: int
    process: str
    t: np.ndarray  # (K,) times of the frames
    xs: np.ndarray  # (K, N, 2) float32
    stationary_var: float | None  # OU: sigma^2 / (2 theta); None for the others
    ref_x: np.ndarray  # (G,) where the reference density of the x coordinate is given
    ref_pdf: np.ndarray  # (G,) the reference density of X's x coordinate at the end
    density: np.ndarray | None  # (G, G) the target density (row 0 = top), Langevin only
    seconds: float


def _mixture_x_pdf(exact, t: float, xs: np.ndarray) -> np.ndarray:
    """The x-coordinate marginal of p_t: sum_i pi_i N(x; alpha_t mu_i1, s_i^2)."""
    v = exact.schedule(torch.tensor([float(t)], dtype=torch.float64))
    a, b = float(v.alpha[0]), float(v.beta[0])
    mu = exact.means[:, 0].double().numpy() * a
    s2 = a * a * exact.widths.double().numpy() ** 2 + b * b
    s2 = np.maximum(s2, 1e-6)
    pi = exact.weights.double().numpy()
    d = xs[:, None] - mu[None, :]
    return (pi * np.exp(-0.5 * d * d / s2) / np.sqrt(2 * math.pi * s2)).sum(1)


def _normal_pdf(xs: np.ndarray, var: float) -> np.ndarray:
    return np.exp(-0.5 * xs * xs / var) / math.sqrt(2 * math.pi * var)


def simulate(r: PlaygroundRequest) -> PlaygroundResult:
    """Run the process of ``r`` (seconds for the Langevin ones with large targets)."""
    if r.process not in PROCESSES:
        raise ValueError(f"unknown process {r.process!r}; use one of {PROCESSES}")
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(int(r.seed))
    x0 = torch.randn((int(r.n), 2), generator=g, dtype=torch.float64)
    every = max(1, int(r.steps) // FRAMES)
    ref_x = np.linspace(r.bounds[0], r.bounds[1], 200)
    var = density = None
    if r.process in ("langevin", "annealed") and r.exact is None:
        raise ValueError("Langevin needs a target (an ExactMarginal)")
    if r.process == "brownian":
        tr = dynamics.brownian_motion(x0, r.duration, r.steps, r.sigma, r.seed, every)
        ref = _normal_pdf(ref_x, 1.0 + r.sigma**2 * r.duration)
    elif r.process == "ou":
        tr = dynamics.ornstein_uhlenbeck(x0, r.theta, r.sigma, r.duration, r.steps, r.seed, every)
        var = r.sigma**2 / (2 * r.theta)
        ref = _normal_pdf(ref_x, var)
    elif r.process == "langevin":
        ex = r.exact
        t_l = 1.0 if bool((ex.widths > 0).all()) else dynamics.T_POINT_TARGET
        tr = dynamics.langevin_to_target(ex, x0, r.sigma, r.duration, r.steps, t_l, r.seed, every)
        ref = _mixture_x_pdf(ex, t_l, ref_x)
        density = _density(ex, t_l, r.bounds, r.density_grid)
    else:
        ex = r.exact
        levels = 30
        t_end = 1.0 if bool((ex.widths > 0).all()) else dynamics.T_POINT_TARGET
        tr = dynamics.annealed_langevin(
            ex, x0, levels, max(1, r.steps // levels), 0.1, t_end=t_end, seed=r.seed
        )
        ref = _mixture_x_pdf(ex, t_end, ref_x)
        density = _density(ex, t_end, r.bounds, r.density_grid)
    return PlaygroundResult(
        r.generation,
        r.process,
        tr.t.numpy(),
        tr.xs.float().numpy(),
        var,
        ref_x,
        ref,
        density,
        time.perf_counter() - t0,
    )


def _density(exact, t: float, bounds, n: int) -> np.ndarray:
    xs = torch.linspace(bounds[0], bounds[1], n, dtype=torch.float64)
    ys = torch.linspace(bounds[3], bounds[2], n, dtype=torch.float64)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    return exact.log_prob(pts, t).exp().reshape(n, n).numpy()
