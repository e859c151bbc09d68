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
        #: the common widths^2 when all target (source) components share one, else None
        self._h2u = float(self.h2[0]) if np.ptp(self.h2) == 0 else None
        self._g2u = float(self.g2[0]) if np.ptp(self.g2) == 0 else None
        self._buffers: tuple[np.ndarray, np.ndarray] | None = None

    def _work(self) -> tuple[np.ndarray, np.ndarray]:
        if self._buffers is None:
            shape = (len(self.source_means), len(self.means))
            self._buffers = (np.empty(shape), np.empty(shape))
        return self._buffers

    def _s2(self, a: float, b: float):
        """s_ij^2 = alpha_t^2 h_j^2 + beta_t^2 g_i^2 (floored): a float if it is one for all."""
        if self._h2u is not None and self._g2u is not None:
            return max(a * a * self._h2u + b * b * self._g2u, S2_MIN)
        return np.maximum(a * a * self.h2[None, :] + b * b * self.g2[:, None], S2_MIN)

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
        r = x[None, :] - a * mu  # (Kt, D): x - alpha_t mu_j
        # logits in place in two (Ks, Kt) work arrays (a million pairs: fresh temporaries of
        # that size cost more in page faults than the arithmetic)
        lg, tmp = self._work()
        # ||x - m_ij||^2 = ||r_j||^2 - 2 beta_t nu_i . r_j + beta_t^2 ||nu_i||^2
        np.outer(nu[:, 0], r[:, 0], out=lg)
        for k in range(1, d):
            lg += np.outer(nu[:, k], r[:, k], out=tmp)
        lg *= -2.0 * b
        lg += (r * r).sum(1)[None, :]
        lg += (b * b) * self._nu2[:, None]
        s2 = self._s2(a, b)  # a scalar when all widths agree (presets), else (Ks, Kt)
        if np.ndim(s2) == 0:
            lg *= -0.5 / s2  # (the common - D log s_ij drops out of the softmax)
        else:
            lg /= s2
            lg *= -0.5
            lg -= np.multiply(np.log(s2, out=tmp), 0.5 * d, out=tmp)
        lg += self.log_rho[:, None]
        lg += self.log_pi[None, :]
        if y is not None and y >= 0 and self.labels is not None:
            lg[:, self.labels != int(y)] = -np.inf
        w = lg
        w -= w.max()
        np.exp(w, out=w)
        w /= w.sum()
        if np.ndim(s2) == 0:  # one width per mixture: c_ij is one number
            c = (a * da * float(self._h2u or 0.0) + bdb * float(self._g2u or 0.0)) / s2
        else:
            c = (a * da * self.h2[None, :] + bdb * self.g2[:, None]) / s2
        w_t, w_s = w.sum(0), w.sum(1)
        if np.ndim(s2) == 0:
            wc0, wc1, ws0, ws1 = c * w_t, c * w_s, w_t / s2, w_s / s2
        else:
            np.multiply(w, c, out=tmp)
            wc0, wc1 = tmp.sum(0), tmp.sum(1)
            np.divide(w, s2, out=tmp)
            ws0, ws1 = tmp.sum(0), tmp.sum(1)
        # sum_ij w_ij [da mu_j + db nu_i + c_ij (x - a mu_j - b nu_i)]
        velocity = (da * (w_t @ mu) + db * (w_s @ nu) + wc0.sum() * x
                    - a * (wc0 @ mu) - b * (wc1 @ nu))  # fmt: skip
        # sum_ij w_ij (a mu_j + b nu_i - x) / s2_ij
        score = a * (ws0 @ mu) + b * (ws1 @ nu) - ws0.sum() * x
        kt = len(mu)
        flat = w.reshape(-1)
        m = min(max(int(top), 0), flat.size)
        idx = np.argpartition(-flat, m - 1)[:m] if 0 < m < flat.size else np.arange(m)
        idx = idx[np.argsort(-flat[idx], kind="stable")]
        ii, jj = idx // kt, idx % kt
        diff = x[None, :] - a * mu[jj] - b * nu[ii]
        ci = c[ii, jj][:, None] if np.ndim(c) else c
        si = s2[ii, jj][:, None] if np.ndim(s2) else s2
        vel = da * mu[jj] + db * nu[ii] + ci * diff
        sc = -diff / si
        return BridgeLensPoint(
            x, t, flat.copy(), idx, vel, sc, velocity, score,
            target_weights=w_t, source_weights=w_s, pairs=np.stack([ii, jj], 1),
        )  # fmt: skip


__all__ = ["BridgeLensPoint", "LensBridge"]
