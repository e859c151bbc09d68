"""The exact marginal oracle for a drawn density (MATH.md, "The exact marginal oracle").

p_data(z) = sum_i pi_i N(z; mu_i, h_i^2 I). Under the Gaussian path every quantity is closed form:
component i at time t is N(alpha_t mu_i, s_i(t)^2 I) with s_i^2 = alpha_t^2 h_i^2 + beta_t^2, and
with posterior weights
w_i(x, t) = softmax_i(log pi_i - ||x - alpha_t mu_i||^2 / (2 s_i^2) - D log s_i):
- p_t(x) = sum_i pi_i N(x; alpha_t mu_i, s_i^2 I)
- u_t(x) = sum_i w_i [d_alpha_t mu_i + (d_s_i / s_i) (x - alpha_t mu_i)],
  d_s_i / s_i = (alpha_t d_alpha_t h_i^2 + beta_t d_beta_t) / s_i^2 (beta_t d_beta_t in closed form,
  finite at t = 1 for every schedule)
- grad log p_t(x) = sum_i w_i (alpha_t mu_i - x) / s_i^2
The posterior lens (MATH.md, "Posterior and bridges") is public: ``posterior`` gives w_i(x, t)
(N, K), ``component_velocities`` / ``component_scores`` the per-component fields (N, K, D), whose
w-weighted average is ``velocity`` / ``score``.
A class label y restricts the sums to the components of class y (u_t(x | y)); no label uses all of
them (u_t(x | empty)). Evaluation streams over points and components with an online log-sum-exp,
so memory stays bounded (about ``max_block`` = 2^20 floats per block) for 50k points x 5k
components.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .paths import time_tensor
from .schedules import Schedule, get_schedule

#: smallest component variance s_i^2 used (point masses at t = 1 would divide by 0)
S2_MIN = 1e-10
#: most entries (points x components) that :meth:`ExactMarginal.posterior` returns at once
MAX_POSTERIOR_ENTRIES = 1 << 24


@dataclass(frozen=True)
class ExactFields:
    """Closed-form values at points x: log_prob (N,), velocity (N, D), score (N, D)."""

    log_prob: torch.Tensor
    velocity: torch.Tensor
    score: torch.Tensor


def _to_tensor(a, dtype=torch.float64) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to("cpu", dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype)


class ExactMarginal:
    """Weighted isotropic Gaussian mixture target with closed-form p_t, u_t and score.

    means: (K, D); weights: (K,) (normalized here; default uniform); widths: (K,) std h_i >= 0
    (0 = point mass; a scalar broadcasts); labels: optional (K,) ints >= 0 (class of each
    component); schedule: name or Schedule. ``x`` arguments are (N, D) tensors, ``t`` a float or
    (N,) tensor, ``y`` None (all components), an int, or an (N,) int tensor where -1 = no label.
    """

    def __init__(
        self,
        means,
        weights=None,
        widths=None,
        labels=None,
        schedule: str | Schedule = "condot",
        max_block: int = 1 << 20,
    ):
        mu = _to_tensor(means)
        if mu.ndim != 2 or mu.shape[0] == 0:
            raise ValueError(f"means must be a non-empty (K, D) array, got shape {tuple(mu.shape)}")
        if not torch.isfinite(mu).all():
            raise ValueError("means contain NaN or Inf; remove those points and try again")
        k = mu.shape[0]
        pi = torch.ones(k, dtype=torch.float64) if weights is None else _to_tensor(weights)
        if pi.shape != (k,) or not torch.isfinite(pi).all() or (pi < 0).any() or pi.sum() <= 0:
            raise ValueError("weights must be K finite non-negative numbers with a positive sum")
        h = torch.zeros(k, dtype=torch.float64) if widths is None else _to_tensor(widths)
        if h.ndim == 0:
            h = h.expand(k).clone()
        if h.shape != (k,) or not torch.isfinite(h).all() or (h < 0).any():
            raise ValueError("widths must be a scalar or K finite non-negative numbers")
        keep = pi > 0
        self.means = mu[keep]
        self.weights = (pi / pi.sum())[keep]
        self.widths = h[keep]
        if labels is not None:
            lab = torch.as_tensor(np.asarray(labels)).long().reshape(-1)
            if lab.shape != (k,) or (lab < 0).any():
                raise ValueError("labels must be K non-negative integers (one class per component)")
            self.labels: torch.Tensor | None = lab[keep]
        else:
            self.labels = None
        self.schedule = get_schedule(schedule)
        self.max_block = int(max_block)
        self._cache: dict = {}

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def classes(self) -> list[int]:
        return [] if self.labels is None else sorted(set(self.labels.tolist()))

    @property
    def num_classes(self) -> int:
        return 0 if self.labels is None else int(self.labels.max()) + 1

    @property
    def fingerprint(self) -> str:
        """A digest of the mixture and schedule: equal for equal targets, also across processes
        (caches key on it; ``id()`` is neither stable nor unique there)."""
        fp = self.__dict__.get("_fingerprint")
        if fp is None:
            import hashlib

            h = hashlib.blake2b(digest_size=16)
            for t in (self.means, self.weights, self.widths, self.labels):
                h.update(b"-" if t is None else t.detach().cpu().contiguous().numpy().tobytes())
            h.update(self.schedule.name.encode())
            fp = self._fingerprint = h.hexdigest()
        return fp

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = {}  # device copies are rebuilt on demand, never shipped
        return state

    def with_schedule(self, schedule: str | Schedule) -> ExactMarginal:
        """The same mixture under another path schedule."""
        return ExactMarginal(
            self.means, self.weights, self.widths, self.labels, schedule, self.max_block
        )

    def affine(self, shift, scale: float) -> ExactMarginal:
        """The mixture of x' = (x - shift) / scale (what a normalized model is trained on)."""
        sh = _to_tensor(shift).reshape(1, -1)
        return ExactMarginal(
            (self.means - sh) / scale,
            self.weights,
            self.widths / scale,
            self.labels,
            self.schedule,
            self.max_block,
        )

    def _params(self, device, dtype):
        key = (str(device), dtype)
        if key not in self._cache:
            self._cache[key] = (
                self.means.to(device, dtype),
                self.weights.log().to(device, dtype),
                self.widths.to(device, dtype).pow(2),
                None if self.labels is None else self.labels.to(device),
            )
        return self._cache[key]

    # ------------------------------------------------------------------ evaluation
    def _labels_for(self, y, n: int, device) -> torch.Tensor | None:
        if y is None:
            return None
        if self.labels is None:
            raise ValueError("this target has no classes; call without a label y")
        yy = torch.as_tensor(y, device=device).long()
        if yy.ndim == 0:
            yy = yy.expand(n)
        if yy.shape != (n,):
            raise ValueError(f"y must be an int or an ({n},) tensor, got shape {tuple(yy.shape)}")
        known = set(self.classes)
        bad = [c for c in set(yy.tolist()) if c >= 0 and c not in known]
        if bad:
            raise ValueError(f"unknown class {bad[0]}; this target has classes {sorted(known)}")
        return yy

    def evaluate(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> ExactFields:
        """log p_t(x [| y]), u_t(x [| y]) and grad log p_t(x [| y]) in one streaming pass.

        Differentiable in x (no graph is built unless x requires grad)."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must be (N, {self.dim}), got shape {tuple(x.shape)}")
        dtype = x.dtype if x.is_floating_point() else torch.float32
        x = x.to(dtype)
        n, d = x.shape
        # only beta_t d_beta_t enters (finite at t = 1 also for vp and sqrt, whose d_beta_t is
        # not), so t = 1 is evaluated at t = 1; only a zero-width component's variance is floored
        tt = time_tensor(t, n, x).clamp(0.0, 1.0)
        sv = self.schedule(tt)
        yy = self._labels_for(y, n, x.device)
        mu, log_pi, h2, lab = self._params(x.device, dtype)
        k = mu.shape[0]
        logp = torch.empty(n, dtype=dtype, device=x.device)
        vel = torch.empty_like(x)
        score = torch.empty_like(x)
        rows = max(1, min(n, self.max_block // max(1, min(k, self.max_block))))
        cols = max(1, min(k, self.max_block // rows))
        uniform = n > 0 and bool((tt == tt[0]).all())
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            xb = x[r0:r1]
            yb = None if yy is None or lab is None else yy[r0:r1]
            if uniform:
                acc = self._block_uniform(xb, sv, mu, log_pi, h2, lab, yb, cols)
                a, da = sv.alpha[0], sv.d_alpha[0]
            else:
                acc = self._block_rows(xb, sv, r0, r1, mu, log_pi, h2, lab, yb, cols)
                a, da = sv.alpha[r0:r1, None], sv.d_alpha[r0:r1, None]
            m, l_sum, s_mu, s_c, s_cmu, s_inv, s_invmu = acc
            cls_mass = 0.0 if yb is None else self._class_log_mass(yb, log_pi, lab)
            logp[r0:r1] = (m + torch.log(l_sum)).squeeze(1) - 0.5 * d * math.log(2 * math.pi)
            logp[r0:r1] -= cls_mass
            inv_l = 1.0 / l_sum
            e_mu, e_c, e_cmu = s_mu * inv_l, s_c * inv_l, s_cmu * inv_l
            vel[r0:r1] = da * e_mu + e_c * xb - a * e_cmu
            score[r0:r1] = a * s_invmu * inv_l - xb * (s_inv * inv_l)
        return ExactFields(logp, vel, score)

    @staticmethod
    def _mask(logit, lab, yb, c0, c1):
        if yb is None:
            return logit
        own = (lab[None, c0:c1] == yb[:, None]) | (yb[:, None] < 0)
        return logit.masked_fill(~own, -math.inf)

    def _block_uniform(self, xb, sv, mu, log_pi, h2, lab, yb, cols):
        """All rows share one t: per-component terms are (C,) vectors, the squared distances
        one matmul, and every weighted sum one (R, C) @ (C, 3 + 3D) matmul."""
        a, b, da, bdb = sv.alpha[0], sv.beta[0], sv.d_alpha[0], sv.beta_d_beta[0]
        r, d = xb.shape
        # logit = log pi - D/2 log s2 - |x - a mu|^2 / (2 s2), as ONE matmul:
        # [x, |x|^2, 1] @ [a mu / s2, -1 / (2 s2), log pi - D/2 log s2 - |a mu|^2 / (2 s2)]^T
        lhs = torch.cat([xb, xb.pow(2).sum(1, keepdim=True), torch.ones_like(xb[:, :1])], 1)
        m = torch.full((r, 1), -math.inf, dtype=xb.dtype, device=xb.device)
        sums = torch.zeros((r, 3 + 3 * d), dtype=xb.dtype, device=xb.device)
        for c0 in range(0, mu.shape[0], cols):
            c1 = min(mu.shape[0], c0 + cols)
            mub, h2b = mu[c0:c1], h2[c0:c1]
            s2 = (a * a * h2b + b * b).clamp_min(S2_MIN)
            inv = 1.0 / s2
            am = a * mub
            const = log_pi[c0:c1] - 0.5 * d * torch.log(s2) - 0.5 * inv * am.pow(2).sum(1)
            rhs = torch.cat([am * inv[:, None], -0.5 * inv[:, None], const[:, None]], 1)
            logit = self._mask(lhs @ rhs.T, lab, yb, c0, c1)
            m_new = torch.maximum(m, logit.max(dim=1, keepdim=True).values)
            m_safe = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
            if logit.requires_grad:
                p = torch.exp(logit - m_safe)
            else:  # in place: one (R, C) buffer instead of two
                p = logit.sub_(m_safe).exp_()
            c = (a * da * h2b + bdb) * inv
            cols_mat = torch.cat(
                [
                    torch.ones_like(c)[:, None],
                    mub,
                    c[:, None],
                    c[:, None] * mub,
                    inv[:, None],
                    inv[:, None] * mub,
                ],
                dim=1,
            )
            sums = sums * torch.exp(m - m_safe) + p @ cols_mat
            m = m_new
        l_sum, s_mu = sums[:, :1], sums[:, 1 : 1 + d]
        s_c, s_cmu = sums[:, 1 + d : 2 + d], sums[:, 2 + d : 2 + 2 * d]
        s_inv, s_invmu = sums[:, 2 + 2 * d : 3 + 2 * d], sums[:, 3 + 2 * d :]
        return m, l_sum, s_mu, s_c, s_cmu, s_inv, s_invmu

    def _block_rows(self, xb, sv, r0, r1, mu, log_pi, h2, lab, yb, cols):
        """Each row has its own t: (R, C) per-pair variances."""
        a, b = sv.alpha[r0:r1, None], sv.beta[r0:r1, None]
        da, bdb = sv.d_alpha[r0:r1, None], sv.beta_d_beta[r0:r1, None]
        r, d = xb.shape
        z1 = torch.zeros((r, 1), dtype=xb.dtype, device=xb.device)
        zd = torch.zeros((r, d), dtype=xb.dtype, device=xb.device)
        m = torch.full((r, 1), -math.inf, dtype=xb.dtype, device=xb.device)
        l_sum, s_mu, s_c, s_cmu, s_inv, s_invmu = z1, zd, z1, zd, z1, zd
        one_width = bool((h2 == h2[0]).all())  # the presets: s2, 1/s2 and c are (R, 1), not (R, C)
        for c0 in range(0, mu.shape[0], cols):
            c1 = min(mu.shape[0], c0 + cols)
            mub, h2b = mu[c0:c1], (h2[:1] if one_width else h2[c0:c1])[None, :]
            s2 = (a * a * h2b + b * b).clamp_min(S2_MIN)  # (R, C) or (R, 1)
            inv = 1.0 / s2
            if d <= 4:  # sum_k (x_k - a mu_k)^2, one (R, C) buffer per coordinate (no (R, C, D))
                dist2 = torch.addcmul(xb[:, :1], a, mub[None, :, 0], value=-1.0).square()
                for k in range(1, d):
                    dk = torch.addcmul(xb[:, k : k + 1], a, mub[None, :, k], value=-1.0)
                    dist2 = dist2 + dk.square()
            else:
                dist2 = (
                    xb.pow(2).sum(-1, keepdim=True)
                    - 2 * a * (xb @ mub.T)
                    + (a * a) * mub.pow(2).sum(-1)[None, :]
                ).clamp_min(0)
            # log pi - D/2 log s2 - |x - a mu|^2 / (2 s2)
            logit = torch.addcmul(log_pi[None, c0:c1] - 0.5 * d * torch.log(s2), dist2, inv,
                                  value=-0.5)  # fmt: skip
            logit = self._mask(logit, lab, yb, c0, c1)
            m_new = torch.maximum(m, logit.max(dim=1, keepdim=True).values)
            m_safe = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
            scale = torch.exp(m - m_safe)
            if logit.requires_grad:
                p = torch.exp(logit - m_safe)
            else:  # in place: one (R, C) buffer instead of two
                p = logit.sub_(m_safe).exp_()
            c = (a * da * h2b + bdb) * inv
            l_sum = l_sum * scale + p.sum(1, keepdim=True)
            s_mu = s_mu * scale + p @ mub
            s_c = s_c * scale + (p * c).sum(1, keepdim=True)
            s_cmu = s_cmu * scale + (p * c) @ mub
            s_inv = s_inv * scale + (p * inv).sum(1, keepdim=True)
            s_invmu = s_invmu * scale + (p * inv) @ mub
            m = m_new
        return m, l_sum, s_mu, s_c, s_cmu, s_inv, s_invmu

    def _class_log_mass(self, yy: torch.Tensor, log_pi: torch.Tensor, lab: torch.Tensor):
        out = torch.zeros(yy.shape[0], dtype=log_pi.dtype, device=yy.device)
        for c in set(yy.tolist()):
            if c < 0:
                continue
            out[yy == c] = torch.logsumexp(log_pi[lab == c], dim=0)
        return out

    def velocity(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        """Marginal vector field u_t(x) (or u_t(x | y)), shape (N, D)."""
        return self.evaluate(x, t, y).velocity

    def velocity_and_score(self, x: torch.Tensor, t, y=None):
        """(u_t(x), grad log p_t(x)) from one pass (what the SDE sampler needs)."""
        f = self.evaluate(x, t, y)
        return f.velocity, f.score

    def score(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        """Marginal score grad_x log p_t(x) (or given y), shape (N, D)."""
        return self.evaluate(x, t, y).score

    def log_prob(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        """log p_t(x) (or log p_t(x | y)), shape (N,)."""
        return self.evaluate(x, t, y).log_prob

    @staticmethod
    def bridge(source: ExactMarginal, target: ExactMarginal):
        """The exact oracle of x_t = alpha_t x_1 + beta_t x_0 with x_0 ~ source, x_1 ~ target
        (independent coupling; :class:`flowscope.core.bridge.ExactBridge`)."""
        from .bridge import ExactBridge

        return ExactBridge(source, target)

    # ------------------------------------------------------------------ posterior lens
    def _dense_check(self, n: int, what: str) -> None:
        if n * self.n_components > MAX_POSTERIOR_ENTRIES:
            raise ValueError(
                f"{what} would hold {n} x {self.n_components} entries (cap "
                f"{MAX_POSTERIOR_ENTRIES}); ask for fewer points at once"
            )

    def _component_terms(self, x: torch.Tensor, t):
        """Per-component (N, K) quantities: (a, da, s2, c) with c = d_s_i / s_i, on x's dtype."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must be (N, {self.dim}), got shape {tuple(x.shape)}")
        tt = time_tensor(t, x.shape[0], x).clamp(0.0, 1.0)
        sv = self.schedule(tt)
        mu, log_pi, h2, lab = self._params(x.device, x.dtype)
        a, b = sv.alpha[:, None], sv.beta[:, None]
        da, bdb = sv.d_alpha[:, None], sv.beta_d_beta[:, None]
        s2 = (a * a * h2[None, :] + b * b).clamp_min(S2_MIN)
        c = (a * da * h2[None, :] + bdb) / s2
        return a, da, s2, c, mu, log_pi, lab

    def posterior(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        """w_i(x, t) = p(component i | x_t = x [, y]), shape (N, K); rows sum to 1.

        With a label y the components of other classes get weight 0 (y = -1: all). Dense in
        (N, K): at most ``MAX_POSTERIOR_ENTRIES`` entries per call (ValueError beyond)."""
        x = x if x.is_floating_point() else x.float()
        n = x.shape[0]
        self._dense_check(n, "the posterior")
        a, _, s2, _, mu, log_pi, lab = self._component_terms(x, t)
        yy = self._labels_for(y, n, x.device)
        dist2 = (x[:, None, :] - a[:, :, None] * mu[None, :, :]).pow(2).sum(-1)
        logit = log_pi[None, :] - 0.5 * dist2 / s2 - 0.5 * self.dim * torch.log(s2)
        logit = self._mask(logit, lab, yy, 0, mu.shape[0])
        return torch.softmax(logit, dim=1)

    def component_velocities(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """u_t(x | i) = d_alpha_t mu_i + (d_s_i / s_i)(x - alpha_t mu_i) for every component,
        shape (N, K, D). For a point component (h_i = 0) this is the course's conditional field
        u_t(x | z = mu_i); sum_i w_i u_t(x | i) = u_t(x) (:meth:`posterior`)."""
        x = x if x.is_floating_point() else x.float()
        self._dense_check(x.shape[0] * self.dim, "the component velocities")
        a, da, _, c, mu, _, _ = self._component_terms(x, t)
        am = a[:, :, None] * mu[None, :, :]
        return da[:, :, None] * mu[None, :, :] + c[:, :, None] * (x[:, None, :] - am)

    def component_scores(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """grad log N(x; alpha_t mu_i, s_i^2 I) = (alpha_t mu_i - x) / s_i^2, shape (N, K, D)."""
        x = x if x.is_floating_point() else x.float()
        self._dense_check(x.shape[0] * self.dim, "the component scores")
        a, _, s2, _, mu, _, _ = self._component_terms(x, t)
        return (a[:, :, None] * mu[None, :, :] - x[:, None, :]) / s2[:, :, None]

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n: int,
        seed: int | None = None,
        y: int | None = None,
        generator: torch.Generator | None = None,
        return_labels: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        """n points from p_data (class y only if given); with return_labels also (n,) labels."""
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        w = self.weights
        if y is not None:
            if self.labels is None:
                raise ValueError("this target has no classes; call sample without y")
            if int(y) not in self.classes:
                raise ValueError(f"unknown class {y}; this target has classes {self.classes}")
            w = torch.where(self.labels == int(y), w, torch.zeros_like(w))
        idx = torch.multinomial(w, int(n), replacement=True, generator=generator)
        noise = torch.randn((int(n), self.dim), dtype=torch.float64, generator=generator)
        pts = (self.means[idx] + self.widths[idx, None] * noise).to(dtype)
        if return_labels:
            lab = self.labels[idx] if self.labels is not None else torch.zeros(int(n)).long()
            return pts, lab
        return pts

    def __repr__(self) -> str:
        cls = f", classes={self.classes}" if self.labels is not None else ""
        return (
            f"ExactMarginal(K={self.n_components}, D={self.dim}, "
            f"schedule={self.schedule.name!r}{cls})"
        )
