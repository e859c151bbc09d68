"""Sample-quality metrics, the irreducible loss floor and flow log-likelihood (MATH.md,
"Measuring sample quality").

- sample distances between generated ``x`` and reference ``y`` (each (N, D), any float dtype;
  computed in float64): energy distance, squared MMD (RBF), sliced Wasserstein-2, grid KL (2D);
- ``loss_floor``: L_min = E || target(x_t | z) - E[target | x_t] ||^2 from the exact marginal;
- ``log_likelihood``: log p_1(x_1) = log p_0(x_0) - int_0^1 div u_t(X_t) dt, integrated back
  from t = 1 (data) to t = 0 (noise, p_0 = N(0, I)) with RK4.

Pairwise work is done in row blocks of at most ``MAX_BLOCK`` entries, so N = 50k never
allocates an N x N matrix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from .losses import check_parameterization, sample_training_times, weighted_residual
from .paths import sample_path

#: largest number of entries of one pairwise block (rows x columns)
MAX_BLOCK = 1 << 22
#: pooled points used for the median-distance bandwidth heuristic (2000^2 = 4M distances)
MEDIAN_POINTS = 2000
DIVERGENCE_MODES = ("auto", "autograd", "fd")


def _points(x, name: str, min_n: int = 1, dim: int | None = None) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    if t.ndim != 2 or t.shape[0] < min_n or t.shape[1] < 1:
        raise ValueError(
            f"{name} must be an (N, D) array of points with N >= {min_n}, "
            f"got shape {tuple(t.shape)}"
        )
    if dim is not None and t.shape[1] != dim:
        raise ValueError(f"{name} has D = {t.shape[1]} but the other sample has D = {dim}")
    t = t.to("cpu", torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or Inf; drop those rows before measuring")
    return t


def _pair(x, y, min_n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    a = _points(x, "x", min_n)
    return a, _points(y, "y", min_n, a.shape[1])


def _subsample(x: torch.Tensor, max_points: int | None, gen: torch.Generator) -> torch.Tensor:
    if max_points is None or x.shape[0] <= max_points:
        return x
    return x[torch.randperm(x.shape[0], generator=gen)[:max_points]]


def _int_at_least(value, name: str, lo: int = 1) -> int:
    if int(value) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value}")
    return int(value)


def _check_max_points(max_points: int | None) -> int | None:
    return None if max_points is None else _int_at_least(max_points, "max_points (or None)", 2)


def _pair_mean(a: torch.Tensor, b: torch.Tensor, fn) -> float:
    """Mean over all (i, j) of fn(||a_i - b_j||^2), in row blocks of <= MAX_BLOCK entries."""
    rows = max(1, MAX_BLOCK // b.shape[0])
    total = 0.0
    for r0 in range(0, a.shape[0], rows):
        d = torch.cdist(a[r0 : r0 + rows], b, compute_mode="donot_use_mm_for_euclid_dist")
        total += float(fn(d.square_()).sum())
    return total / (a.shape[0] * b.shape[0])


def energy_distance(x, y, max_points: int | None = 4096, seed: int = 0) -> float:
    """Energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (V-statistic, so always >= 0).

    x: (N, D), y: (M, D). Each sample is subsampled (seeded) to ``max_points`` rows first;
    ``max_points=None`` uses all points (exact, still chunked).
    """
    a, b = _pair(x, y)
    gen = torch.Generator().manual_seed(int(seed))
    mp = _check_max_points(max_points)
    a, b = _subsample(a, mp, gen), _subsample(b, mp, gen)
    dist = torch.sqrt
    e = 2 * _pair_mean(a, b, dist) - _pair_mean(a, a, dist) - _pair_mean(b, b, dist)
    return max(e, 0.0)


def median_bandwidth(x, y, seed: int = 0) -> float:
    """Median pairwise distance (i != j) of the pooled sample (at most MEDIAN_POINTS points)."""
    a, b = _pair(x, y)
    pooled = _subsample(torch.cat([a, b]), MEDIAN_POINTS, torch.Generator().manual_seed(seed))
    d = torch.cdist(pooled, pooled, compute_mode="donot_use_mm_for_euclid_dist")
    iu = torch.triu_indices(d.shape[0], d.shape[0], offset=1)
    off = d[iu[0], iu[1]]
    med = float(off.median()) if off.numel() else 0.0
    if med <= 0.0:
        med = float(off.mean()) if off.numel() else 0.0
    return med if med > 0.0 else 1.0


def mmd_rbf(
    x, y, bandwidth: float | None = None, max_points: int | None = 4096, seed: int = 0
) -> float:
    """Squared MMD with k(a, b) = exp(-||a - b||^2 / (2 bandwidth^2)) (V-statistic, >= 0).

    x: (N, D), y: (M, D). bandwidth None = median heuristic (:func:`median_bandwidth`) on the
    pooled subsample. Subsampling to ``max_points`` per sample as in :func:`energy_distance`.
    """
    a, b = _pair(x, y)
    gen = torch.Generator().manual_seed(int(seed))
    mp = _check_max_points(max_points)
    a, b = _subsample(a, mp, gen), _subsample(b, mp, gen)
    if bandwidth is None:
        bandwidth = median_bandwidth(a, b, seed)
    elif not (math.isfinite(float(bandwidth)) and float(bandwidth) > 0):
        raise ValueError(f"bandwidth must be a positive number (or None), got {bandwidth}")
    g = 0.5 / float(bandwidth) ** 2

    def k(d2: torch.Tensor) -> torch.Tensor:
        return torch.exp(d2.mul_(-g))

    m = _pair_mean(a, a, k) + _pair_mean(b, b, k) - 2 * _pair_mean(a, b, k)
    return max(m, 0.0)


def _merged_levels(n: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Step quantile functions of n and m sorted values on the merged level grid.

    Levels i / n and j / m cut [0, 1] into intervals on which both quantile functions are
    constant; returns (row in the n-sample, row in the m-sample, interval length) per interval.
    Integer arithmetic (common denominator n m) keeps it exact.
    """
    cuts = torch.cat([torch.arange(1, n + 1) * m, torch.arange(1, m + 1) * n]).sort().values
    length = torch.diff(cuts, prepend=cuts.new_zeros(1))
    mid2 = 2 * cuts - length  # 2 n m * (interval midpoint)
    ia = (mid2 // (2 * m)).clamp(max=n - 1)
    ib = (mid2 // (2 * n)).clamp(max=m - 1)
    return ia, ib, length.to(torch.float64) / (n * m)


def sliced_wasserstein(x, y, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced W2: sqrt(mean over random unit directions theta of W2^2(<x, theta>, <y, theta>)).

    x: (N, D), y: (M, D). The 1D W2^2 = int_0^1 (F^-1(u) - G^-1(u))^2 du of the projected
    empirical quantile functions, evaluated exactly (sorted pairs when N = M; for unequal sizes
    on the merged grid of levels i / N and j / M). Directions are seeded.
    """
    a, b = _pair(x, y)
    n_proj = _int_at_least(n_projections, "n_projections")
    gen = torch.Generator().manual_seed(int(seed))
    dirs = torch.randn(n_proj, a.shape[1], dtype=torch.float64, generator=gen)
    dirs = dirs / dirs.norm(dim=1, keepdim=True).clamp_min(1e-12)
    n, m = a.shape[0], b.shape[0]
    if n == m:
        ia = ib = None
        levels = n
    else:
        ia, ib, w = _merged_levels(n, m)
        levels = n + m
    cols = max(1, MAX_BLOCK // levels)
    total = 0.0
    for c0 in range(0, dirs.shape[0], cols):
        d = dirs[c0 : c0 + cols].T
        pa = torch.sort(a @ d, dim=0).values
        pb = torch.sort(b @ d, dim=0).values
        if ia is None:
            total += float((pa - pb).square_().mean(0).sum())
        else:
            total += float((w[:, None] * (pa[ia] - pb[ib]).square_()).sum())
    return math.sqrt(total / dirs.shape[0])


def _bounds(a: torch.Tensor, b: torch.Tensor, bounds) -> tuple[float, float, float, float]:
    if bounds is None:
        both = torch.cat([a, b])
        lo, hi = both.min(0).values, both.max(0).values
        margin = torch.where(hi > lo, 0.05 * (hi - lo), torch.ones_like(hi))
        lo, hi = lo - margin, hi + margin
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])
    bx = [float(v) for v in bounds]
    if len(bx) != 4 or not all(math.isfinite(v) for v in bx) or bx[1] <= bx[0] or bx[3] <= bx[2]:
        raise ValueError(
            f"bounds must be (x_min, x_max, y_min, y_max) with min < max, got {bounds}"
        )
    return bx[0], bx[1], bx[2], bx[3]


def _histogram(p: torch.Tensor, box, bins: int) -> torch.Tensor:
    lo = torch.tensor([box[0], box[2]], dtype=p.dtype)
    span = torch.tensor([box[1] - box[0], box[3] - box[2]], dtype=p.dtype)
    ij = ((p - lo) / span * bins).floor().clamp(0, bins - 1).long()  # outside -> edge bins
    return torch.bincount(ij[:, 0] * bins + ij[:, 1], minlength=bins * bins).to(p.dtype)


def grid_kl(samples, reference, bounds=None, bins: int = 64, eps: float = 1e-6) -> float:
    """KL(reference || samples) between 2D histograms on a shared bins x bins grid.

    samples: (N, 2), reference: (M, 2). Each histogram is normalized, eps is added to every
    cell and it is renormalized (so the KL is finite and >= 0). bounds: (x_min, x_max, y_min,
    y_max); None = the joint min/max plus a 5% margin. Points outside go to the edge cells.
    """
    a, b = _pair(samples, reference)
    if a.shape[1] != 2:
        raise ValueError(f"grid_kl needs 2D points (N, 2), got D = {a.shape[1]}")
    bins = _int_at_least(bins, "bins")
    if not float(eps) > 0:
        raise ValueError(f"eps must be > 0 (it keeps the KL finite), got {eps}")
    box = _bounds(a, b, bounds)
    p_s, p_r = (_histogram(v, box, bins) / v.shape[0] + float(eps) for v in (a, b))
    p_s, p_r = p_s / p_s.sum(), p_r / p_r.sum()
    return max(float((p_r * (p_r.log() - p_s.log())).sum()), 0.0)


@dataclass(frozen=True)
class QualityReport:
    """Distances between generated samples and reference samples (all 0 for a perfect match)."""

    energy: float
    mmd: float
    sliced_w2: float
    grid_kl: float
    n_samples: int
    n_reference: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def quality(
    samples,
    reference,
    max_points: int | None = 4096,
    n_projections: int = 256,
    bins: int = 64,
    bounds=None,
    seed: int = 0,
) -> QualityReport:
    """All four distances of samples (N, D) to reference (M, D); grid_kl is nan unless D = 2."""
    a, b = _pair(samples, reference)
    kl = grid_kl(a, b, bounds, bins) if a.shape[1] == 2 else float("nan")
    return QualityReport(
        energy=energy_distance(a, b, max_points, seed),
        mmd=mmd_rbf(a, b, None, max_points, seed),
        sliced_w2=sliced_wasserstein(a, b, n_projections, seed),
        grid_kl=kl,
        n_samples=a.shape[0],
        n_reference=b.shape[0],
    )


# ----------------------------------------------------------------------------- loss floor


def training_draw(exact, objective: str, n: int, seed: int = 0, y=None):
    """The Monte Carlo draw behind :func:`loss_floor`: (z, t, eps), each float64, z (n, D) ~ p_data
    (class y only if given), t (n,) as training draws it, eps (n, D) ~ N(0, I); seeded, so a
    model's loss on the same draw pairs sample by sample with the floor."""
    check_parameterization(objective)
    n = _int_at_least(n, "n (Monte Carlo samples)")
    gen = torch.Generator().manual_seed(int(seed))
    z = exact.sample(n, y=y, generator=gen, dtype=torch.float64)
    t = sample_training_times(n, exact.schedule, objective, dtype=torch.float64, generator=gen)
    eps = torch.randn(z.shape, dtype=torch.float64, generator=gen)
    return z, t, eps


def marginal_target(exact, path, objective: str, y=None) -> torch.Tensor:
    """E[regression target | x_t] from the exact oracle at path.x_t: u_t (velocity), the score
    (score) or -beta_t score (noise); (N, D). The best possible prediction of each objective."""
    if objective == "velocity":
        return exact.velocity(path.x_t, path.t, y)
    if objective == "score":
        return exact.score(path.x_t, path.t, y)
    return -exact.schedule(path.t).beta[:, None] * exact.score(path.x_t, path.t, y)


def _floor_samples(
    exact, objective: str, n: int, seed: int, y, chunk_size: int, weighting: str = "beta2"
):
    """Training times t (n,) and per-sample lambda(t) || target - E[target | x_t] ||^2 (n,)."""
    z, t, eps = training_draw(exact, objective, n, seed, y)
    n, chunk = z.shape[0], max(1, int(chunk_size))
    out = torch.empty(n, dtype=torch.float64)
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        path = sample_path(exact.schedule, z[r0:r1], t[r0:r1], eps[r0:r1])
        marginal = marginal_target(exact, path, objective, y)
        out[r0:r1] = weighted_residual(marginal, path, objective, weighting).square().sum(1)
    return t, out


def loss_floor(
    exact,
    objective: str = "velocity",
    n: int = 20000,
    seed: int = 0,
    y=None,
    chunk_size: int = 8192,
    weighting: str = "beta2",
) -> float:
    """Irreducible training loss L_min = E lambda(t) || target(x_t | z) - E[target | x_t] ||^2.

    exact: an ExactMarginal; objective 'velocity' (target d_alpha z + d_beta eps, marginal
    u_t), 'score' (-eps / beta_t, marginal score) or 'noise' (eps, marginal -beta_t score).
    t is drawn as training draws it, z ~ p_data (class y only if given), x_t = alpha z + beta eps.
    Monte Carlo over n samples; a trained model's loss minus this is its excess loss.
    weighting: the score objective's lambda(t) ('beta2' or 'none', see losses.py).
    """
    return float(_floor_samples(exact, objective, n, seed, y, chunk_size, weighting)[1].mean())


#: classes beyond which conditional_loss_floor samples classes instead of visiting each
MAX_FLOOR_CLASSES = 16


def conditional_loss_floor(
    exact,
    objective: str = "velocity",
    label_dropout: float = 0.1,
    n: int = 20000,
    seed: int = 0,
    weighting: str = "beta2",
) -> float:
    """L_min of a class-conditional model trained with label dropout eta:
    eta * L_min(unconditional) + (1 - eta) * sum_y P(y) L_min(y), since a labelled sample's
    best prediction is E[target | x_t, y] (the class-restricted oracle) and a dropped label's is
    E[target | x_t]. Equals :func:`loss_floor` for unlabelled targets."""
    if exact.labels is None:
        return loss_floor(exact, objective, n, seed, weighting=weighting)
    eta = float(label_dropout)
    if not 0.0 <= eta <= 1.0:
        raise ValueError("label_dropout must be in [0, 1]")
    total = eta * loss_floor(exact, objective, n, seed, weighting=weighting) if eta > 0 else 0.0
    if eta < 1.0:
        classes = [int(c) for c in exact.classes]
        probs = [float(exact.weights[exact.labels == c].sum()) for c in classes]
        if len(classes) > MAX_FLOOR_CLASSES:
            # many classes (1000 labels froze the window for minutes): an unbiased estimate of
            # sum_y P(y) L_min(y) from MAX_FLOOR_CLASSES classes drawn with probability P(y)
            g = torch.Generator().manual_seed(int(seed))
            pick = torch.multinomial(torch.tensor(probs), MAX_FLOOR_CLASSES, True, generator=g)
            per = max(250, n // MAX_FLOOR_CLASSES)
            for i in pick.tolist():
                c = classes[i]
                floor_c = loss_floor(exact, objective, per, seed + 1 + c, y=c, weighting=weighting)
                total += (1.0 - eta) * floor_c / MAX_FLOOR_CLASSES
            return total
        for c, p_c in zip(classes, probs):
            per = max(1000, int(n * p_c))
            floor_c = loss_floor(exact, objective, per, seed + 1 + c, y=c, weighting=weighting)
            total += (1.0 - eta) * p_c * floor_c
    return total


@dataclass(frozen=True)
class FloorEstimate:
    """A Monte Carlo estimate of L_min and its standard error (one sigma)."""

    value: float
    stderr: float


def loss_floor_estimate(
    exact,
    objective: str = "velocity",
    label_dropout: float | None = None,
    n: int = 20000,
    seed: int = 0,
    weighting: str = "beta2",
) -> FloorEstimate:
    """L_min with its standard error: unconditional (label_dropout None, or a target without
    labels) or, for a class-conditional model, eta L_min + (1 - eta) sum_y P(y) L_min(y) as in
    :func:`conditional_loss_floor` (with more than MAX_FLOOR_CLASSES classes, the same unbiased
    estimate from classes drawn with probability P(y), so the work stays bounded)."""
    per = _floor_samples(exact, objective, n, seed, None, 8192, weighting)[1]
    uncond = FloorEstimate(float(per.mean()), float(per.std() / math.sqrt(per.numel())))
    if label_dropout is None or exact.labels is None:
        return uncond
    eta = float(label_dropout)
    if not 0.0 <= eta <= 1.0:
        raise ValueError("label_dropout must be in [0, 1]")
    classes = [int(c) for c in exact.classes]
    probs = [float(exact.weights[exact.labels == c].sum()) for c in classes]
    if len(classes) > MAX_FLOOR_CLASSES:
        g = torch.Generator().manual_seed(int(seed))
        pick = torch.multinomial(torch.tensor(probs), MAX_FLOOR_CLASSES, True, generator=g)
        terms = [(classes[i], 1.0 / MAX_FLOOR_CLASSES, max(250, n // MAX_FLOOR_CLASSES))
                 for i in pick.tolist()]  # fmt: skip
    else:
        terms = [(c, p, max(500, int(n * p))) for c, p in zip(classes, probs)]
    value, var = eta * uncond.value, (eta * uncond.stderr) ** 2
    for c, coef, k in terms:
        pc = _floor_samples(exact, objective, k, seed + 1 + c, c, 8192, weighting)[1]
        value += (1.0 - eta) * coef * float(pc.mean())
        var += ((1.0 - eta) * coef) ** 2 * float(pc.var()) / pc.numel()
    return FloorEstimate(value, math.sqrt(var))


def loss_floor_by_t(
    exact,
    objective: str = "velocity",
    bins: int = 10,
    n: int = 20000,
    seed: int = 0,
    y=None,
    chunk_size: int = 8192,
    weighting: str = "beta2",
) -> torch.Tensor:
    """L_min per time bin: (bins,) float64, bin k covers [k / bins, (k + 1) / bins).

    Same Monte Carlo draw as :func:`loss_floor` with the same seed, so the count-weighted mean
    of the bins equals it; bins no training time falls in (e.g. t > 1 - t_eps) are nan.
    """
    bins = _int_at_least(bins, "bins")
    t, per = _floor_samples(exact, objective, n, seed, y, chunk_size, weighting)
    idx = (t * bins).floor().long().clamp(0, bins - 1)
    counts = torch.bincount(idx, minlength=bins).to(torch.float64)
    sums = torch.bincount(idx, weights=per, minlength=bins)
    return torch.where(counts > 0, sums / counts.clamp_min(1), torch.full_like(sums, math.nan))


# ----------------------------------------------------------------------------- log-likelihood


def _velocity_and_div(field, x: torch.Tensor, t: torch.Tensor, y, mode: str):
    """u_t(x) (N, D) and div u_t(x) (N,), the exact Jacobian trace (autograd) or central FD."""
    d = x.shape[1]
    if mode != "fd":
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            u = field.velocity(xg, t, y)
            if u.requires_grad:
                div = torch.zeros_like(x[:, 0])
                for i in range(d):
                    (g,) = torch.autograd.grad(u[:, i].sum(), xg, retain_graph=i < d - 1)
                    div = div + g[:, i]
                return u.detach().to(x.dtype), div
        if mode == "autograd":
            raise ValueError(
                "the field's velocity does not track gradients (it may run under "
                "torch.no_grad()); use divergence='fd' or 'auto'"
            )
    else:
        u = field.velocity(x, t, y)
    h = torch.finfo(x.dtype).eps ** (1 / 3) * x.abs().clamp_min(1.0)
    div = torch.zeros_like(x[:, 0])
    for i in range(d):
        e = torch.zeros_like(x)
        e[:, i] = h[:, i]
        du = field.velocity(x + e, t, y)[:, i] - field.velocity(x - e, t, y)[:, i]
        div = div + du.detach().to(x.dtype) / (2 * h[:, i])
    return u.detach().to(x.dtype), div


def _standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * x.square().sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def log_likelihood(
    field,
    x1,
    steps: int = 100,
    y=None,
    chunk_size: int = 4096,
    divergence: str = "auto",
) -> torch.Tensor:
    """log p_1(x_1) (N,) of the flow dX/dt = u_t(X) with X_0 ~ N(0, I), in x1's dtype.

    field: has ``velocity(x (N, D), t (N,), y=None) -> (N, D)``; x1: (N, D) points at t = 1;
    y: None, an int or an (N,) label tensor passed to the field. RK4 from t = 1 back to t = 0
    on (x, l) with dl/dt = div u_t(x); then log p_1(x_1) = log p_0(x_0) + l(0), where p_0 is the
    field's ``source_log_prob(x0)`` if it has one (a FlowModel trained on normalized data starts
    from N(shift, scale^2 I) in data coordinates), else N(0, I).
    divergence: 'autograd' (exact Jacobian trace, one backward pass per dimension), 'fd'
    (central differences, 2 D extra calls) or 'auto' (autograd, falling back to 'fd' when the
    field's output carries no graph, e.g. a field evaluated under torch.no_grad()).
    """
    if isinstance(x1, torch.Tensor) and x1.is_floating_point():
        x = x1.detach()
    else:
        x = torch.as_tensor(x1, dtype=torch.float32)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x1 must be an (N, D) array of points, got shape {tuple(x.shape)}")
    steps = _int_at_least(steps, "steps")
    if divergence not in DIVERGENCE_MODES:
        raise ValueError(f"unknown divergence {divergence!r}; use one of {DIVERGENCE_MODES}")
    if not callable(getattr(field, "velocity", None)):
        raise ValueError("field needs a velocity(x, t, y=None) method (ExactMarginal, FlowModel)")
    n, d = x.shape
    chunk = max(1, int(chunk_size))
    h = -1.0 / steps
    source_log_prob = getattr(field, "source_log_prob", None) or _standard_normal_log_prob
    out = torch.empty_like(x[:, 0])
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        xb = x[r0:r1].clone()
        yb = y[r0:r1] if isinstance(y, torch.Tensor) and y.ndim > 0 else y
        ll = torch.zeros_like(xb[:, 0])

        def f(xx, tt, yb=yb):
            return _velocity_and_div(field, xx, torch.full_like(xx[:, 0], tt), yb, divergence)

        for k in range(steps):
            t0 = 1.0 + k * h
            u1, g1 = f(xb, t0)
            u2, g2 = f(xb + 0.5 * h * u1, t0 + 0.5 * h)
            u3, g3 = f(xb + 0.5 * h * u2, t0 + 0.5 * h)
            u4, g4 = f(xb + h * u3, t0 + h)
            xb = xb + h / 6 * (u1 + 2 * u2 + 2 * u3 + u4)
            ll = ll + h / 6 * (g1 + 2 * g2 + 2 * g3 + g4)
        out[r0:r1] = source_log_prob(xb) + ll
    return out



# straightness of a model's flow (transport cost vs kinetic energy) lives in its own module
from .straightness import kinetic_energy as kinetic_energy  # noqa: E402
from .straightness import quality_vs_steps as quality_vs_steps  # noqa: E402
from .straightness import straightness as straightness  # noqa: E402
from .straightness import transport_cost as transport_cost  # noqa: E402
