"""The conditional path p_t(x | z) for a mixture source, in numpy (MATH.md, "Posterior and
bridges").

With x_0 ~ p_init = sum_i rho_i N(nu_i, g_i^2 I) and a fixed data point z, x_t = alpha_t z +
beta_t x_0 is the mixture

    p_t(x | z) = sum_i rho_i N(x; alpha_t z + beta_t nu_i, beta_t^2 g_i^2 I).

Its exact field is the posterior average over i of the component fields
u_i(x) = d_alpha_t z + d_beta_t nu_i + (d_beta_t / beta_t)(x - alpha_t z - beta_t nu_i)
(the pair field of MATH.md with h = 0), and every u_i equals
u_t(x | z) = d_alpha_t z + (d_beta_t / beta_t)(x - alpha_t z): given z, x determines x_0 =
(x - alpha_t z) / beta_t, so the conditional field (and its closed-form ODE X_t = alpha_t z +
beta_t X_0) is the Gaussian path's for every source. The density and the score change:

    grad log p_t(x | z) = sum_i w_i(x) (alpha_t z + beta_t nu_i - x) / (beta_t^2 g_i^2),
    w_i(x) = softmax_i(log rho_i - ||x - alpha_t z - beta_t nu_i||^2 / (2 beta_t^2 g_i^2)
                       - D log(beta_t g_i)).

The standard Gaussian source (one component, nu = 0, g = 1) gives N(alpha_t z, beta_t^2 I).
Shapes: x (M, D), z (D,); a, b, da, db are alpha_t, beta_t, d_alpha_t, d_beta_t at one t.
"""

from __future__ import annotations

import math

import numpy as np

#: the smallest component variance (a point source at t where beta_t g_i = 0)
S2_MIN = 1e-12


class ConditionalSource:
    """Numpy copies of a source mixture (an ExactMarginal; None: N(0, I) in ``dim`` D)."""

    def __init__(self, source=None, dim: int = 2) -> None:
        if source is None:
            self.nu = np.zeros((1, dim))
            self.log_rho = np.zeros(1)
            self.g2 = np.ones(1)
        else:
            self.nu = source.means.detach().cpu().double().numpy()
            self.log_rho = np.log(source.weights.detach().cpu().double().numpy())
            self.g2 = source.widths.detach().cpu().double().numpy() ** 2
        self.rho = np.exp(self.log_rho)

    @property
    def dim(self) -> int:
        return self.nu.shape[1]

    def _terms(self, x, z, a: float, b: float):
        """(M, K) log rho_i N(x; m_i, s_i^2 I) and (M, K, D) x - m_i, (K,) s_i^2."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        z = np.asarray(z, dtype=np.float64).reshape(self.dim)
        m = a * z[None, :] + b * self.nu  # (K, D)
        s2 = np.maximum(b * b * self.g2, S2_MIN)
        diff = x[:, None, :] - m[None]
        logit = self.log_rho[None] - 0.5 * (diff * diff).sum(-1) / s2[None]
        logit -= 0.5 * self.dim * np.log(2 * math.pi * s2)[None]
        return logit, diff, s2

    def log_prob(self, x, z, a: float, b: float) -> np.ndarray:
        """log p_t(x | z), (M,)."""
        logit, _, _ = self._terms(x, z, a, b)
        mx = logit.max(1, keepdims=True)
        return (mx + np.log(np.exp(logit - mx).sum(1, keepdims=True)))[:, 0]

    def score(self, x, z, a: float, b: float) -> np.ndarray:
        """grad log p_t(x | z), (M, D): the posterior average of -(x - m_i) / s_i^2."""
        logit, diff, s2 = self._terms(x, z, a, b)
        w = np.exp(logit - logit.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        return -((w / s2[None])[:, :, None] * diff).sum(1)

    @staticmethod
    def velocity(x, z, a: float, b: float, da: float, db: float) -> np.ndarray:
        """u_t(x | z) = d_alpha_t z + (d_beta_t / beta_t)(x - alpha_t z), (M, D) (any source)."""
        x = np.asarray(x, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64).reshape(1, -1)
        return da * z + (db / b) * (x - a * z)

    def density_grid(self, xs, ys, z, a: float, b: float, floor: float = 0.0) -> np.ndarray:
        """p_t(x | z) on the grid ys x xs (2-D; row k = ys[k]), each component's std floored at
        ``floor`` (a pixel: point masses stay visible). Separable: sum_i rho_i gy_i gx_i^T, one
        (len(ys), K) @ (K, len(xs)) product."""
        if self.dim != 2:
            raise ValueError("density_grid is for 2-D sources")
        z = np.asarray(z, dtype=np.float64).reshape(2)
        s = np.maximum(b * np.sqrt(self.g2), max(float(floor), math.sqrt(S2_MIN)))  # (K,)
        cx = a * z[0] + b * self.nu[:, 0]
        cy = a * z[1] + b * self.nu[:, 1]
        gx = np.exp(-0.5 * ((np.asarray(xs)[None, :] - cx[:, None]) / s[:, None]) ** 2)
        gy = np.exp(-0.5 * ((np.asarray(ys)[None, :] - cy[:, None]) / s[:, None]) ** 2)
        coef = self.rho / (2 * math.pi * s * s)
        return (gy.T * coef[None, :]) @ gx

    def sample_x0(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws of x_0 from the source, (n, D)."""
        i = rng.choice(len(self.rho), size=int(n), p=self.rho / self.rho.sum())
        return self.nu[i] + np.sqrt(self.g2[i])[:, None] * rng.standard_normal((int(n), self.dim))

    def sample(self, n: int, z, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
        """n draws of x_t = alpha_t z + beta_t x_0 ~ p_t(. | z), (n, D)."""
        z = np.asarray(z, dtype=np.float64).reshape(1, self.dim)
        return a * z + b * self.sample_x0(n, rng)


__all__ = ["ConditionalSource"]
