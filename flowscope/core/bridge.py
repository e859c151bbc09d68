"""The exact oracle of a data-to-data bridge (MATH.md, "Posterior and bridges").

x_t = alpha_t x_1 + beta_t x_0 with x_0 ~ source = sum_i rho_i N(nu_i, g_i^2 I) and
x_1 ~ target = sum_j pi_j N(mu_j, h_j^2 I), independent coupling. Pair (i, j) at time t is
N(m_ij, s_ij^2 I), m_ij = alpha_t mu_j + beta_t nu_i, s_ij^2 = alpha_t^2 h_j^2 + beta_t^2 g_i^2, and

- E[x_1 | x, ij] = mu_j + (alpha_t h_j^2 / s_ij^2)(x - m_ij)
- E[x_0 | x, ij] = nu_i + (beta_t g_i^2 / s_ij^2)(x - m_ij)
- u_ij(x) = d_alpha_t E[x_1 | .] + d_beta_t E[x_0 | .]
  = d_alpha_t mu_j + d_beta_t nu_i
    + (alpha_t d_alpha_t h_j^2 + beta_t d_beta_t g_i^2) / s_ij^2 (x - m_ij)
- score_ij(x) = -(x - m_ij) / s_ij^2
- posterior over pairs w_ij(x, t) proportional to rho_i pi_j N(x; m_ij, s_ij^2 I).

Only beta_t d_beta_t multiplies x - m_ij, so t = 1 works for vp and sqrt whenever the source
means are 0 (d_beta_t nu_i is then taken as 0); with nonzero source means those schedules truly
have an infinite velocity at t = 1. The standard Gaussian source (nu = 0, g = 1) gives
:class:`ExactMarginal` exactly. Evaluation streams over (point rows) x (pair blocks) with an online
log-sum-exp, so K_src x K_tgt pairs never need more than about ``max_block`` floats per (points x
pairs x D) block.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .exact import MAX_POSTERIOR_ENTRIES, S2_MIN, ExactFields, ExactMarginal
from .paths import time_tensor
from .schedules import Schedule

#: points evaluated together against one block of pairs
ROWS = 256


class ExactBridge:
    """Closed-form p_t, u_t and score of the independent-coupling bridge source -> target.

    Same methods as :class:`ExactMarginal` (``log_prob``, ``velocity``, ``score``,
    ``velocity_and_score``, ``evaluate``, ``sample`` of x_1, ``posterior`` over pairs,
    ``schedule``). The schedule is the target's. A label y restricts the target components.
    """

    def __init__(self, source: ExactMarginal, target: ExactMarginal, max_block: int = 1 << 20):
        if source.dim != target.dim:
            raise ValueError(f"the source is {source.dim}-D but the target is {target.dim}-D")
        self.source = source
        self.target = target
        self.schedule: Schedule = target.schedule
        self.max_block = int(max_block)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return self.target.dim

    @property
    def n_pairs(self) -> int:
        return self.source.n_components * self.target.n_components

    @property
    def classes(self) -> list[int]:
        return self.target.classes

    @property
    def fingerprint(self) -> str:
        """A digest of both mixtures and the schedule (caches key on it, as ExactMarginal's)."""
        return f"bridge:{self.source.fingerprint}:{self.target.fingerprint}"

    def with_schedule(self, schedule: str | Schedule) -> ExactBridge:
        return ExactBridge(self.source, self.target.with_schedule(schedule), self.max_block)

    def __repr__(self) -> str:
        return (
            f"ExactBridge(K_src={self.source.n_components}, K_tgt={self.target.n_components}, "
            f"D={self.dim}, schedule={self.schedule.name!r})"
        )

    # ------------------------------------------------------------------ pair blocks
    def _blocks(self, cap: int):
        """(i0, i1, j0, j1) covering all pairs, each with at most ``cap`` pairs."""
        ks, kt = self.source.n_components, self.target.n_components
        cap = max(1, int(cap))
        jstep = min(kt, cap)
        istep = max(1, cap // jstep)
        for i0 in range(0, ks, istep):
            for j0 in range(0, kt, jstep):
                yield i0, min(ks, i0 + istep), j0, min(kt, j0 + jstep)

    def _pair_terms(self, xb, sv, blk, dtype, device, yb):
        """One block of P pairs: the (R, P) logits and the pieces of the pair fields,
        u_ij = k_ij + c_ij (x - m_ij) and score_ij = -(x - m_ij) / s_ij^2, as
        (logit, k, c, diff, s2). The schedule terms in ``sv`` are (R, 1) or, when every row has
        the same t, (1, 1): then k, c and s2 are computed once per pair, (1, P[, D])."""
        i0, i1, j0, j1 = blk
        nu, lr, g2, _ = self.source._params(device, dtype)
        mu, lp, h2, lab = self.target._params(device, dtype)
        ni, nj = i1 - i0, j1 - j0
        nu_p = nu[i0:i1, None, :].expand(ni, nj, -1).reshape(ni * nj, -1)
        mu_p = mu[None, j0:j1, :].expand(ni, nj, -1).reshape(ni * nj, -1)
        g2_p = g2[i0:i1, None].expand(ni, nj).reshape(-1)
        h2_p = h2[None, j0:j1].expand(ni, nj).reshape(-1)
        logw = (lr[i0:i1, None] + lp[None, j0:j1]).reshape(-1)
        a, b, da, db, bdb = sv
        m = a[:, :, None] * mu_p[None] + b[:, :, None] * nu_p[None]  # (R or 1, P, D)
        s2 = (a * a * h2_p[None] + b * b * g2_p[None]).clamp_min(S2_MIN)  # (R or 1, P)
        d = xb.shape[1]
        if m.shape[0] == 1 and xb.shape[0] > 1:
            # one t (as ExactMarginal._block_uniform): no (R, P, D) tensor; the logits
            # log w - D/2 log s2 - |x - m|^2 / (2 s2) are ONE matmul
            # [x, |x|^2, 1] @ [m / s2, -1 / (2 s2), log w - D/2 log s2 - |m|^2 / (2 s2)]^T
            # and the pair sums use x and m (see _stream)
            diff = None
            inv = 1.0 / s2[0]
            const = logw - 0.5 * d * torch.log(s2[0]) - 0.5 * inv * m[0].pow(2).sum(1)
            rhs = torch.cat([m[0] * inv[:, None], -0.5 * inv[:, None], const[:, None]], 1)
            lhs = torch.cat([xb, xb.pow(2).sum(1, keepdim=True), torch.ones_like(xb[:, :1])], 1)
            logit = lhs @ rhs.T
        else:
            diff = xb[:, None, :] - m  # (R, P, D)
            ones = torch.ones(d, dtype=diff.dtype, device=device)  # |diff|^2 as a matmul:
            dist2 = diff.pow(2) @ ones  # several times faster than .sum(-1) over a short axis
            logit = logw[None] - 0.5 * dist2 / s2 - 0.5 * d * torch.log(s2)
        if yb is not None and lab is not None:
            own = (lab[None, j0:j1] == yb[:, None]) | (yb[:, None] < 0)  # (R, nj)
            own = own[:, None, :].expand(-1, ni, -1).reshape(xb.shape[0], -1)
            logit = logit.masked_fill(~own, -math.inf)
        # d_beta_t nu_i: 0 where nu_i = 0 (d_beta_1 is infinite for vp / sqrt)
        db_nu = torch.where(nu_p[None] == 0, torch.zeros_like(m), db[:, :, None] * nu_p[None])
        c = (a * da * h2_p[None] + bdb * g2_p[None]) / s2
        k = da[:, :, None] * mu_p[None] + db_nu
        return logit, k, c, (m if diff is None else diff), s2

    def _setup(self, x, t, y):
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must be (N, {self.dim}), got shape {tuple(x.shape)}")
        dtype = x.dtype if x.is_floating_point() else torch.float32
        x = x.to(dtype)
        tt = time_tensor(t, x.shape[0], x).clamp(0.0, 1.0)
        if x.shape[0] > 1 and bool((tt == tt[0]).all()):
            tt = tt[:1]  # one t for every row (an ODE step): the pair terms once, not per row
        v = self.schedule(tt)
        sv = tuple(q[:, None] for q in (v.alpha, v.beta, v.d_alpha, v.d_beta, v.beta_d_beta))
        yy = self.target._labels_for(y, x.shape[0], x.device)
        return x, dtype, sv, yy

    def _rows_and_cap(self, n: int) -> tuple[int, int]:
        """Rows per chunk and pairs per block: (rows x pairs x (D + 1)) <= max_block."""
        rows = max(1, min(n, ROWS, self.max_block // (self.dim + 1)))
        return rows, max(1, self.max_block // (rows * (self.dim + 1)))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> ExactFields:
        """log p_t(x [| y]), u_t(x [| y]) and grad log p_t(x [| y]) in one streaming pass."""
        logp, vel, score = self._stream(x, t, y, with_score=True)
        assert score is not None
        return ExactFields(logp, vel, score)

    def _stream(self, x, t, y, with_score: bool):
        """The streaming pass: per row chunk, an online log-sum-exp over pair blocks of
        sum_ij w_ij u_ij = sum_ij w_ij k_ij + sum_ij (w_ij c_ij) (x - m_ij) (and of the score
        when ``with_score``), the sums over pairs done as matrix products."""
        x, dtype, sv, yy = self._setup(x, t, y)
        n, d = x.shape
        logp = torch.empty(n, dtype=dtype, device=x.device)
        vel = torch.empty_like(x)
        score = torch.empty_like(x) if with_score else None
        rows, cap = self._rows_and_cap(n)
        _, lp, _, lab = self.target._params(x.device, dtype)
        uniform = sv[0].shape[0] == 1 and n > 1
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            xb = x[r0:r1]
            yb = None if yy is None else yy[r0:r1]
            svb = sv if uniform else tuple(q[r0:r1] for q in sv)
            m = torch.full((r1 - r0, 1), -math.inf, dtype=dtype, device=x.device)
            l_sum = torch.zeros((r1 - r0, 1), dtype=dtype, device=x.device)
            s_u, s_s = torch.zeros_like(xb), torch.zeros_like(xb)
            for blk in self._blocks(cap):
                logit, k, c, diff, s2 = self._pair_terms(xb, svb, blk, dtype, x.device, yb)
                if uniform and r1 - r0 > 1:  # diff is m (1, P, D): sum w (x - m) = x sum w - w m
                    diff = _Offsets(xb, diff)
                m_new = torch.maximum(m, logit.max(dim=1, keepdim=True).values)
                m_safe = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
                scale = torch.exp(m - m_safe)
                p = torch.exp(logit - m_safe)
                l_sum = l_sum * scale + p.sum(1, keepdim=True)
                s_u = s_u * scale + _pair_sum(p, k) + _pair_sum(p * c, diff)
                if with_score:
                    s_s = s_s * scale - _pair_sum(p / s2, diff)
                m = m_new
            cls_mass = (
                0.0 if yb is None or lab is None else self.target._class_log_mass(yb, lp, lab)
            )
            logp[r0:r1] = (m + torch.log(l_sum)).squeeze(1) - 0.5 * d * math.log(2 * math.pi)
            logp[r0:r1] -= cls_mass
            vel[r0:r1] = s_u / l_sum
            if score is not None:
                score[r0:r1] = s_s / l_sum
        return logp, vel, score

    def posterior(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        """w_ij(x, t) = p(source component i, target component j | x_t = x), shape
        (N, K_src, K_tgt); at most ``MAX_POSTERIOR_ENTRIES`` entries per call."""
        x, dtype, sv, yy = self._setup(x, t, y)
        ks, kt = self.source.n_components, self.target.n_components
        if x.shape[0] * ks * kt > MAX_POSTERIOR_ENTRIES:
            raise ValueError(
                f"the pair posterior would hold {x.shape[0]} x {ks} x {kt} entries "
                f"(cap {MAX_POSTERIOR_ENTRIES}); ask for fewer points at once"
            )
        logit = self._pair_terms(x, sv, (0, ks, 0, kt), dtype, x.device, yy)[0]
        return torch.softmax(logit, dim=1).reshape(x.shape[0], ks, kt)

    def velocity(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        return self._stream(x, t, y, with_score=False)[1]  # what the ODE samplers call

    def score(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        return self.evaluate(x, t, y).score

    def velocity_and_score(self, x: torch.Tensor, t, y=None):
        f = self.evaluate(x, t, y)
        return f.velocity, f.score

    def log_prob(self, x: torch.Tensor, t: float | torch.Tensor, y=None) -> torch.Tensor:
        return self.evaluate(x, t, y).log_prob

    def source_log_prob(self, x0: torch.Tensor) -> torch.Tensor:
        """log p_0(x0) (N,): the source mixture's density (what metrics.log_likelihood starts
        from; components of width 0 have no density)."""
        return self.source.log_prob(x0, 1.0)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, seed: int | None = None, y: int | None = None, **kw):
        """n draws of x_1 from the target (same arguments as ExactMarginal.sample)."""
        return self.target.sample(n, seed=seed, y=y, **kw)

    def sample_source(self, n: int, seed: int | None = None, **kw):
        """n draws of x_0 from the source."""
        return self.source.sample(n, seed=seed, **kw)

    def sample_path(self, n: int, t: float, seed: int | None = None) -> torch.Tensor:
        """n draws of x_t = alpha_t x_1 + beta_t x_0 (independent x_0, x_1), float64."""
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else torch.Generator()
        x1 = self.target.sample(n, generator=g, dtype=torch.float64)
        x0 = self.source.sample(n, generator=g, dtype=torch.float64)
        v = self.schedule(torch.tensor(float(t), dtype=torch.float64))
        return v.alpha * x1 + v.beta * x0


class _Offsets:
    """x[r] - m[p] for x (R, D) and m (1, P, D), never built: _pair_sum takes it apart."""

    def __init__(self, x: torch.Tensor, m: torch.Tensor):
        self.x, self.m = x, m


def _pair_sum(w: torch.Tensor, v) -> torch.Tensor:
    """sum_P w[r, p] v[r, p, :] for w (R, P) and v (R, P, D), (1, P, D) or _Offsets, as matrix
    products (no (R, P, D) temporary)."""
    if isinstance(v, _Offsets):
        return v.x * w.sum(1, keepdim=True) - w @ v.m[0]
    if v.shape[0] == 1:
        return w @ v[0]
    return torch.bmm(w[:, None, :], v).squeeze(1)


def bridge(source: ExactMarginal, target: ExactMarginal) -> ExactBridge:
    """The exact oracle of x_t = alpha_t x_1 + beta_t x_0, x_0 ~ source, x_1 ~ target."""
    return ExactBridge(source, target)


def standard_gaussian(dim: int = 2, schedule: str | Schedule = "condot") -> ExactMarginal:
    """N(0, I) as a one-component mixture (nu = 0, g = 1): the default source."""
    return ExactMarginal(np.zeros((1, dim)), None, 1.0, schedule=schedule)


def is_standard_gaussian(source: ExactMarginal | None) -> bool:
    """Whether ``source`` is N(0, I) (or None, the default)."""
    if source is None:
        return True
    return (
        source.n_components == 1
        and bool((source.means == 0).all())
        and bool((source.widths == 1).all())
    )
