"""The posterior lens at ONE point, in numpy (MATH.md, "Posterior and bridges").

For a mixture target p_data = sum_i pi_i N(mu_i, h_i^2 I) and a point x at time t:
- posterior weights w_i(x, t) = p(component i | x_t = x) (softmax of
  log pi_i - ||x - alpha_t mu_i||^2 / (2 s_i^2) - D log s_i, s_i^2 = alpha_t^2 h_i^2 + beta_t^2)
- component fields u_t(x | i) = d_alpha_t mu_i + (d_s_i / s_i)(x - alpha_t mu_i) (for a point
  component the course's conditional field u_t(x | z = mu_i)) and scores (alpha_t mu_i - x) / s_i^2
- their posterior averages: the exact marginal u_t(x) = sum_i w_i u_t(x | i) and the score.

The same numbers as ``ExactMarginal.posterior`` / ``component_velocities`` /
``velocity``, for one point in O(K) numpy: 20000 components take well under a millisecond, so a
window can follow the mouse with it (torch would cost more in call overhead than the math).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: the smallest component variance used (as in ExactMarginal: point masses at t = 1)
S2_MIN = 1e-10
#: the lens is evaluated at t <= this (point components have an infinite field at t = 1)
T_MAX = 0.995


@dataclass(frozen=True)
class LensPoint:
    """What the lens shows at x and t. weights (K,): the posterior, summing to 1; index (M,): the
    M heaviest components, heaviest first; velocities / scores (M, D): their component fields;
    velocity / score (D,): the w-weighted averages over ALL K components (the exact marginal
    field and score)."""

    x: np.ndarray
    t: float
    weights: np.ndarray
    index: np.ndarray
    velocities: np.ndarray
    scores: np.ndarray
    velocity: np.ndarray
    score: np.ndarray

    @property
    def mass(self) -> float:
        """The posterior mass of the components in ``index``."""
        return float(self.weights[self.index].sum())


class LensMixture:
    """Numpy copies of an ExactMarginal's mixture (built once per target and schedule).

    ``at(x, t, y)`` evaluates the lens at one point; ``y`` (a class) restricts the posterior to
    that class's components (None or -1: all)."""

    def __init__(self, exact) -> None:
        self.exact = exact
        self.means = exact.means.detach().cpu().double().numpy()
        self.log_pi = np.log(exact.weights.detach().cpu().double().numpy())
        self.h2 = exact.widths.detach().cpu().double().numpy() ** 2
        self.labels = None if exact.labels is None else exact.labels.cpu().numpy()
        self.schedule = exact.schedule
        self._mu2 = (self.means**2).sum(1)

    @property
    def n_components(self) -> int:
        return len(self.means)

    def schedule_values(self, t: float) -> tuple[float, float, float, float]:
        """(alpha_t, beta_t, d_alpha_t, beta_t d_beta_t) at a scalar t."""
        v = self.schedule(torch.tensor([float(t)], dtype=torch.float64))
        return (float(v.alpha[0]), float(v.beta[0]), float(v.d_alpha[0]),
                float(v.beta_d_beta[0]))  # fmt: skip

    def at(self, x, t: float, y: int | None = None, top: int = 12) -> LensPoint:
        """The lens at x (D,) and t, with the component fields of the ``top`` heaviest."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape != (self.means.shape[1],):
            raise ValueError(f"x must have {self.means.shape[1]} coordinates, got {x.shape}")
        t = min(max(float(t), 0.0), T_MAX)
        a, b, da, bdb = self.schedule_values(t)
        mu, d = self.means, self.means.shape[1]
        s2 = np.maximum(a * a * self.h2 + b * b, S2_MIN)
        # ||x - a mu||^2 = |x|^2 - 2 a x.mu + a^2 |mu|^2: one (K, D) @ (D,) product
        mux = mu @ x
        logit = self.log_pi - 0.5 * (x @ x - 2.0 * a * mux + a * a * self._mu2) / s2
        logit -= 0.5 * d * np.log(s2)
        if y is not None and y >= 0 and self.labels is not None:
            logit = np.where(self.labels == int(y), logit, -np.inf)
        w = np.exp(logit - logit.max())
        w /= w.sum()
        c = (a * da * self.h2 + bdb) / s2
        # sum_i w_i [da mu_i + c_i (x - a mu_i)] and sum_i w_i (a mu_i - x) / s2_i, as (K,) @ (K, D)
        wc, ws = w * c, w / s2
        velocity = da * (w @ mu) + wc.sum() * x - a * (wc @ mu)
        score = a * (ws @ mu) - ws.sum() * x
        m = min(max(int(top), 0), len(w))
        idx = np.argpartition(-w, m - 1)[:m] if 0 < m < len(w) else np.arange(m)
        idx = idx[np.argsort(-w[idx], kind="stable")]
        diff = x[None, :] - a * mu[idx]
        vel = da * mu[idx] + c[idx, None] * diff
        sc = -diff / s2[idx, None]
        return LensPoint(x, t, w, idx, vel, sc, velocity, score)
