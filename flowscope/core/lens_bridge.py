"""The posterior lens of a data-to-data bridge at ONE point, in numpy (MATH.md, "Posterior and
bridges").

Source p_init = sum_i rho_i N(nu_i, g_i^2 I), target p_data = sum_j pi_j N(mu_j, h_j^2 I),
independent coupling, x_t = alpha_t x_1 + beta_t x_0. Pair (i, j) at time t is
N(m_ij, s_ij^2 I) with m_ij = alpha_t mu_j + beta_t nu_i, s_ij^2 = alpha_t^2 h_j^2 + beta_t^2 g_i^2:

- posterior over pairs w_ij(x, t) = p(i, j | x_t = x), the softmax over all pairs of
  log rho_i + log pi_j - ||x - m_ij||^2 / (2 s_ij^2) - D log s_ij
- pair field u_ij(x) = d_alpha_t E[x_1 | x, ij] + d_beta_t E[x_0 | x, ij]
  = d_alpha_t mu_j + d_beta_t nu_i + c_ij (x - m_ij), c_ij = (alpha_t d_alpha_t h_j^2 +
  beta_t d_beta_t g_i^2) / s_ij^2; pair score -(x - m_ij) / s_ij^2
- the exact marginal u_t(x) = sum_ij w_ij u_ij(x) (and the score likewise): the same numbers
  as :class:`~flowscope.core.bridge.ExactBridge` ``velocity`` / ``score`` / ``posterior``.

With the standard Gaussian source (one component nu = 0, g = 1) this is
:class:`~flowscope.core.lens.LensMixture`. Cost: O(K_src x K_tgt) numpy for one point (a few
elementwise passes over the pair matrix, one (K_src, D) @ (D, K_tgt) product).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .lens import S2_MIN, T_MAX, LensPoint


@dataclass(frozen=True)
class BridgeLensPoint(LensPoint):
    """A :class:`LensPoint` over pairs: ``weights`` (K_src * K_tgt,) is w_ij flattened row-major
    (pair k is (k // K_tgt, k % K_tgt)); ``index`` the heaviest pairs; ``velocities`` / ``scores``
    their pair fields u_ij; ``target_weights`` (K_tgt,) = sum_i w_ij = p(j | x, t);
    ``source_weights`` (K_src,) = sum_j w_ij = p(i | x, t); ``pairs`` (M, 2): (i, j) of index."""

    target_weights: np.ndarray | None = None
    source_weights: np.ndarray | None = None
    pairs: np.ndarray | None = None


class LensBridge:
    """Numpy copies of an ExactBridge's two mixtures (built once per source, target, schedule).

    ``means`` are the target's mu_j and ``source_means`` the source's nu_i (what the lens colours);
    ``at(x, t, y)`` evaluates the lens; ``y`` restricts the target components to one class."""

    def __init__(self, bridge) -> None:
        self.exact = bridge
        src, tgt = bridge.source, bridge.target

        def arr(v):
            return v.detach().cpu().double().numpy()

        self.means, self.source_means = arr(tgt.means), arr(src.means)
        self.log_pi, self.log_rho = np.log(arr(tgt.weights)), np.log(arr(src.weights))
        self.h2, self.g2 = arr(tgt.widths) ** 2, arr(src.widths) ** 2
        self.labels = None if tgt.labels is None else tgt.labels.cpu().numpy()
        self.schedule = bridge.schedule
        self._nu2 = (self.source_means**2).sum(1)

    @property
    def n_components(self) -> int:
        """The number of pairs K_src x K_tgt."""
        return len(self.source_means) * len(self.means)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.source_means), len(self.means)

    def schedule_values(self, t: float) -> tuple[float, float, float, float]:
        """(alpha_t, beta_t, d_alpha_t, beta_t d_beta_t) at a scalar t."""
        v = self.schedule(torch.tensor([float(t)], dtype=torch.float64))
        return (float(v.alpha[0]), float(v.beta[0]), float(v.d_alpha[0]),
                float(v.beta_d_beta[0]))  # fmt: skip

    def at(self, x, t: float, y: int | None = None, top: int = 12) -> BridgeLensPoint:
        """The lens at x (D,) and t (clamped to [0, T_MAX]), with the ``top`` heaviest pairs."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        d = self.means.shape[1]
        if x.shape != (d,):
            raise ValueError(f"x must have {d} coordinates, got {x.shape}")
        t = min(max(float(t), 0.0), T_MAX)
        v = self.schedule(torch.tensor([t], dtype=torch.float64))
        a, b, da, db, bdb = (float(q[0]) for q in
                             (v.alpha, v.beta, v.d_alpha, v.d_beta, v.beta_d_beta))  # fmt: skip
        mu, nu = self.means, self.source_means
        ks, kt = self.shape
        r = x[None, :] - a * mu  # (Kt, D): x - alpha_t mu_j
        # ||x - m_ij||^2 = ||r_j||^2 - 2 beta_t nu_i . r_j + beta_t^2 ||nu_i||^2
        dist = (r * r).sum(1)[None, :] - 2.0 * b * (nu @ r.T) + (b * b) * self._nu2[:, None]
        s2 = np.maximum(a * a * self.h2[None, :] + b * b * self.g2[:, None], S2_MIN)  # (Ks, Kt)
        logit = self.log_rho[:, None] + self.log_pi[None, :] - 0.5 * dist / s2
        logit -= 0.5 * d * np.log(s2)
        if y is not None and y >= 0 and self.labels is not None:
            logit = np.where((self.labels == int(y))[None, :], logit, -np.inf)
        w = np.exp(logit - logit.max())
        w /= w.sum()
        c = (a * da * self.h2[None, :] + bdb * self.g2[:, None]) / s2
        wc, ws = w * c, w / s2
        w_t, w_s = w.sum(0), w.sum(1)
        # sum_ij w_ij [da mu_j + db nu_i + c_ij (x - a mu_j - b nu_i)]
        velocity = (da * (w_t @ mu) + db * (w_s @ nu) + wc.sum() * x
                    - a * (wc.sum(0) @ mu) - b * (wc.sum(1) @ nu))  # fmt: skip
        # sum_ij w_ij (a mu_j + b nu_i - x) / s2_ij
        score = a * (ws.sum(0) @ mu) + b * (ws.sum(1) @ nu) - ws.sum() * x
        flat = w.reshape(-1)
        m = min(max(int(top), 0), flat.size)
        idx = np.argpartition(-flat, m - 1)[:m] if 0 < m < flat.size else np.arange(m)
        idx = idx[np.argsort(-flat[idx], kind="stable")]
        ii, jj = idx // kt, idx % kt
        diff = x[None, :] - a * mu[jj] - b * nu[ii]
        vel = da * mu[jj] + db * nu[ii] + c[ii, jj][:, None] * diff
        sc = -diff / s2[ii, jj][:, None]
        return BridgeLensPoint(
            x, t, flat, idx, vel, sc, velocity, score,
            target_weights=w_t, source_weights=w_s, pairs=np.stack([ii, jj], 1),
        )  # fmt: skip


__all__ = ["BridgeLensPoint", "LensBridge"]
