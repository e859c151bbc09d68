"""Tests for flowscope.core.metrics (scipy only as an independent reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import multivariate_normal

from flowscope.core import metrics
from flowscope.core.exact import ExactMarginal
from flowscope.core.metrics import (
    QualityReport,
    energy_distance,
    grid_kl,
    log_likelihood,
    loss_floor,
    loss_floor_by_t,
    mmd_rbf,
    quality,
    sliced_wasserstein,
)


def gauss(n: int, seed: int, shift: float = 0.0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    x[:, 0] += shift
    return x.to(dtype)


SHIFTS = (0.25, 0.5, 1.0, 2.0)


@pytest.mark.parametrize(
    "fn, same_tol, n",
    [
        (lambda a, b: energy_distance(a, b, max_points=2048), 5e-3, 8000),
        (lambda a, b: mmd_rbf(a, b, max_points=2048), 3e-3, 8000),
        (lambda a, b: sliced_wasserstein(a, b, n_projections=64), 0.05, 8000),
        (lambda a, b: grid_kl(a, b, bins=24), 0.02, 50000),
    ],
    ids=["energy", "mmd", "sliced_w2", "grid_kl"],
)
def test_distance_zero_for_same_and_monotone_in_shift(fn, same_tol, n):
    ref = gauss(n, 1)
    same = fn(gauss(n, 2, dtype=torch.float32), ref)
    assert 0.0 <= same < same_tol
    values = [fn(gauss(n, 2, s), ref) for s in SHIFTS]
    assert values[0] > 2 * same
    assert all(b > a for a, b in zip(values, values[1:])), values


def test_energy_distance_matches_scipy_exactly():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(37, 2)), rng.normal(1.0, 2.0, size=(53, 2))
    ref = 2 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean()
    got = energy_distance(torch.tensor(a), torch.tensor(b), max_points=None)
    assert got == pytest.approx(ref, rel=1e-10)
    got32 = energy_distance(torch.tensor(a, dtype=torch.float32), torch.tensor(b), None)
    assert got32 == pytest.approx(ref, rel=1e-5)


def test_mmd_matches_numpy_with_given_bandwidth():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 2)), rng.normal(0.5, 1.0, size=(30, 2))

    def k(p, q):
        return np.exp(-cdist(p, q, "sqeuclidean") / (2 * 0.7**2))

    ref = k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()
    got = mmd_rbf(torch.tensor(a), torch.tensor(b), bandwidth=0.7, max_points=None)
    assert got == pytest.approx(ref, rel=1e-10)
    pooled = np.concatenate([a, b])
    d = cdist(pooled, pooled)[np.triu_indices(len(pooled), 1)]
    assert metrics.median_bandwidth(torch.tensor(a), torch.tensor(b)) == pytest.approx(
        np.median(d), rel=1e-10
    )


def test_sliced_w2_of_a_pure_shift_is_d_over_sqrt2():
    x = gauss(2000, 3)
    d = 1.5
    # identical samples shifted: every projection's W2 is exactly |d cos theta|
    exact = sliced_wasserstein(x + torch.tensor([d, 0.0], dtype=x.dtype), x, 2048)
    assert exact == pytest.approx(d / math.sqrt(2), rel=0.02)
    # independent samples and unequal sizes (quantile interpolation)
    indep = sliced_wasserstein(gauss(10000, 4, d), gauss(7000, 5), 512)
    assert indep == pytest.approx(d / math.sqrt(2), rel=0.04)


def test_sliced_w2_unequal_sizes_matches_repeated_points():
    x = gauss(50, 6)
    # 50 points each repeated twice have the same empirical distribution as the 50 points
    assert sliced_wasserstein(x, x.repeat(2, 1), 16) < 1e-7
    assert sliced_wasserstein(x, x[:49], 16) > 1e-3


def test_grid_kl_nonnegative_and_bounds():
    a, b = gauss(3000, 7), gauss(3000, 8, 0.3)
    assert grid_kl(a, b) >= 0.0
    assert grid_kl(a, a) == pytest.approx(0.0, abs=1e-12)
    assert grid_kl(a, b, bounds=(-5, 5, -5, 5), bins=16) > 0.0
    with pytest.raises(ValueError, match="x_min, x_max"):
        grid_kl(a, b, bounds=(1, 0, -1, 1))
    with pytest.raises(ValueError, match="2D"):
        grid_kl(torch.zeros(5, 3), torch.zeros(5, 3))


def test_validation_messages():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        energy_distance(torch.zeros(5), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="D = 3"):
        mmd_rbf(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        sliced_wasserstein(torch.full((4, 2), math.nan), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="bandwidth"):
        mmd_rbf(torch.zeros(5, 2), torch.zeros(5, 2), bandwidth=-1.0)


def test_chunking_gives_same_result(monkeypatch):
    a, b = gauss(300, 9), gauss(200, 10, 0.5)
    full = (energy_distance(a, b), mmd_rbf(a, b), sliced_wasserstein(a, b, 32))
    monkeypatch.setattr(metrics, "MAX_BLOCK", 700)
    small = (energy_distance(a, b), mmd_rbf(a, b), sliced_wasserstein(a, b, 32))
    assert small == pytest.approx(full, rel=1e-12)
    target = ExactMarginal([[-2.0, 0.0], [2.0, 0.0]], widths=0.2)
    assert loss_floor(target, n=3000, chunk_size=257) == pytest.approx(
        loss_floor(target, n=3000, chunk_size=5000), rel=1e-12
    )
    x1 = target.sample(100, seed=0, dtype=torch.float64)
    one = log_likelihood(target, x1, steps=5)
    many = log_likelihood(target, x1, steps=5, chunk_size=37)
    torch.testing.assert_close(one, many, rtol=1e-12, atol=1e-12)


def test_subsampling_is_seeded():
    a, b = gauss(3000, 11), gauss(3000, 12, 0.2)
    assert energy_distance(a, b, 500, seed=3) == energy_distance(a, b, 500, seed=3)


def test_quality_report():
    rep = quality(gauss(2000, 13), gauss(2000, 14, 1.0), max_points=1000, n_projections=32)
    assert isinstance(rep, QualityReport)
    d = rep.as_dict()
    assert set(d) == {"energy", "mmd", "sliced_w2", "grid_kl", "n_samples", "n_reference"}
    assert all(d[k] > 0 for k in ("energy", "mmd", "sliced_w2", "grid_kl"))
    assert d["n_samples"] == 2000


# ----------------------------------------------------------------------------- loss floor


@pytest.mark.parametrize("objective", ["velocity", "score", "noise"])
def test_loss_floor_point_mass_is_zero(objective):
    target = ExactMarginal([[1.0, -0.5]], widths=[0.0])
    assert loss_floor(target, objective, n=4000) < 1e-8


@pytest.mark.parametrize("objective", ["velocity", "score", "noise"])
def test_loss_floor_two_components_positive(objective):
    target = ExactMarginal([[-2.0, 0.0], [2.0, 0.0]])
    assert loss_floor(target, objective, n=4000) > 0.05


def test_loss_floor_velocity_gaussian_closed_form():
    # data N(0, h^2 I), CondOT: u_t(x) = c_t x, target z - eps, so L_min = E|z - eps - c_t x_t|^2
    h = 0.5
    target = ExactMarginal([[0.0, 0.0]], widths=[h])
    ts = np.linspace(0, 1, 200001)
    s2 = ts**2 * h**2 + (1 - ts) ** 2
    c = (ts * h**2 - (1 - ts)) / s2
    per_t = 2 * ((1 - c * ts) ** 2 * h**2 + (1 + c * (1 - ts)) ** 2)
    ref = float(np.mean(per_t))
    assert loss_floor(target, n=40000) == pytest.approx(ref, rel=0.03)


def test_loss_floor_by_t_averages_to_loss_floor():
    target = ExactMarginal([[-2.0, 0.0], [2.0, 1.0]], widths=[0.1, 0.3])
    total = loss_floor(target, "velocity", n=20000, seed=4)
    by_t = loss_floor_by_t(target, "velocity", bins=10, n=20000, seed=4)
    assert by_t.shape == (10,)
    assert float(by_t.mean()) == pytest.approx(total, rel=0.03)
    # DSM trains on t <= 0.98: the last bin covers 0.08 of the range
    s_total = loss_floor(target, "score", n=20000, seed=5)
    s_by_t = loss_floor_by_t(target, "score", bins=10, n=20000, seed=5)
    w = torch.full((10,), 0.1 / 0.98, dtype=torch.float64)
    w[-1] = 0.08 / 0.98
    assert float((w * s_by_t).sum()) == pytest.approx(s_total, rel=0.05)
    with pytest.raises(ValueError, match="objective"):
        loss_floor(target, "eps")


# ----------------------------------------------------------------------------- log-likelihood


class GaussianCondOT:
    """Closed-form CondOT field for data N(mu, h^2 I): u_t(x) = mu + c_t (x - t mu)."""

    def __init__(self, mu, h):
        self.mu, self.h = torch.as_tensor(mu, dtype=torch.float64), float(h)

    def velocity(self, x, t, y=None):
        t = t[:, None]
        s2 = t**2 * self.h**2 + (1 - t) ** 2
        c = (t * self.h**2 - (1 - t)) / s2
        mu = self.mu.to(x.dtype)
        return mu + c * (x - t * mu)


MU, H = [0.7, -1.2], 0.6


def _points_and_ref():
    x1 = torch.tensor([[0.7, -1.2], [1.5, -0.3], [-0.2, -2.0], [0.0, 0.0]], dtype=torch.float64)
    ref = multivariate_normal(MU, H**2 * np.eye(2)).logpdf(x1.numpy())
    return x1, torch.tensor(ref)


def test_log_likelihood_gaussian_autograd_field():
    x1, ref = _points_and_ref()
    got = log_likelihood(GaussianCondOT(MU, H), x1, steps=100, divergence="autograd")
    torch.testing.assert_close(got, ref, atol=1e-2, rtol=0)
    got32 = log_likelihood(GaussianCondOT(MU, H), x1.float(), steps=50)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.double(), ref, atol=1e-2, rtol=0)


class DetachedField(GaussianCondOT):
    """The same field evaluated under torch.no_grad() (no autograd graph)."""

    @torch.no_grad()
    def velocity(self, x, t, y=None):
        return super().velocity(x, t, y)


def test_log_likelihood_exact_marginal_and_fd_divergence():
    x1, ref = _points_and_ref()
    target = ExactMarginal([MU], widths=[H])
    for mode in ("auto", "fd"):
        got = log_likelihood(target, x1, steps=60, divergence=mode)
        torch.testing.assert_close(got, ref, atol=1e-2, rtol=0)
    # a field without gradients: 'auto' falls back to finite differences, 'autograd' refuses
    got = log_likelihood(DetachedField(MU, H), x1, steps=60)
    torch.testing.assert_close(got, ref, atol=1e-2, rtol=0)
    with pytest.raises(ValueError, match="no_grad"):
        log_likelihood(DetachedField(MU, H), x1, steps=2, divergence="autograd")


def test_log_likelihood_mixture_matches_exact_log_prob():
    target = ExactMarginal([[-1.5, 0.0], [1.5, 0.5]], widths=[0.4, 0.5], weights=[0.3, 0.7])
    x1 = target.sample(40, seed=1, dtype=torch.float64)
    got = log_likelihood(target, x1, steps=40)
    torch.testing.assert_close(got, target.log_prob(x1, 1.0), atol=1e-2, rtol=0)


def test_log_likelihood_validation():
    with pytest.raises(ValueError, match="steps"):
        log_likelihood(GaussianCondOT(MU, H), torch.zeros(3, 2), steps=0)
    with pytest.raises(ValueError, match="velocity"):
        log_likelihood(object(), torch.zeros(3, 2))


def test_conditional_loss_floor_interpolates_between_conditional_and_unconditional():
    from flowscope.core.exact import ExactMarginal
    from flowscope.core.metrics import conditional_loss_floor, loss_floor

    em = ExactMarginal(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), widths=0.3, labels=[0, 1])
    uncond = loss_floor(em, "velocity", n=20000, seed=0)
    cond = conditional_loss_floor(em, "velocity", 0.0, n=20000)
    half = conditional_loss_floor(em, "velocity", 0.5, n=20000)
    assert cond < 0.8 * uncond  # knowing the class removes the which-blob ambiguity
    assert abs(conditional_loss_floor(em, "velocity", 1.0, n=20000) - uncond) < 1e-9
    assert abs(half - 0.5 * (cond + uncond)) < 0.05 * uncond
    plain = ExactMarginal(torch.tensor([[0.0, 0.0]]), widths=0.3)
    assert conditional_loss_floor(plain, "velocity", 0.1) == loss_floor(plain, "velocity")


def test_log_likelihood_of_a_normalized_perfect_model_is_the_exact_one():
    """A model trained on x' = (x - shift) / scale flows from N(shift, scale^2 I) in data
    coordinates; its likelihood must count that source (the old code used N(0, I): ~2.2e3 nats
    off for shift (30, -20), scale 40)."""
    from oracle_models import oracle_model

    from flowscope.core.exact import ExactMarginal

    shift, scale = (30.0, -20.0), 40.0
    em = ExactMarginal(
        torch.tensor([[0.0, 0.0], [60.0, -40.0]], dtype=torch.float64) + torch.tensor(shift),
        widths=[12.0, 20.0],
    )
    model = oracle_model(em, "velocity", shift, scale)
    x1 = em.sample(64, seed=1, dtype=torch.float64)
    got = log_likelihood(model, x1.float(), steps=40).double()
    want = em.log_prob(x1, 1.0)
    torch.testing.assert_close(got, want, atol=2e-2, rtol=0)
