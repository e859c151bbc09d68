"""Brownian motion, Ornstein-Uhlenbeck and (annealed) Langevin against their closed forms."""

import math

import pytest
import torch

from flowscope.core.data import load_target
from flowscope.core.dynamics import (
    annealed_langevin,
    brownian_motion,
    langevin,
    langevin_to_target,
    ornstein_uhlenbeck,
)
from flowscope.core.exact import ExactMarginal
from flowscope.core.metrics import energy_distance


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_brownian_motion_variance_grows_linearly():
    x0 = torch.zeros(20000, 2, dtype=torch.float64)
    tr = brownian_motion(x0, duration=2.0, steps=50, sigma=0.7, seed=0)
    assert tr.xs.shape == (51, 20000, 2) and float(tr.t[-1]) == pytest.approx(2.0)
    var = tr.x.var(0)
    assert torch.allclose(var, torch.full((2,), 0.49 * 2.0, dtype=torch.float64), rtol=0.05)
    mid = tr.xs[25].var(0)
    assert torch.allclose(mid, torch.full((2,), 0.49 * 1.0, dtype=torch.float64), rtol=0.05)


@pytest.mark.parametrize("theta,sigma", [(1.0, 1.0), (2.0, 0.5), (0.5, 1.5)])
def test_ou_reaches_its_stationary_variance(theta, sigma):
    x0 = torch.full((20000, 2), 3.0, dtype=torch.float64)  # far from stationarity
    tr = ornstein_uhlenbeck(x0, theta, sigma, duration=10.0 / theta, steps=2000, seed=1)
    want = sigma**2 / (2 * theta)
    assert torch.allclose(tr.x.var(0), torch.full((2,), want, dtype=torch.float64), rtol=0.05)
    assert float(tr.x.mean(0).abs().max()) < 0.05 * (1 + want**0.5)
    # the mean decays like exp(-theta s)
    k = 200  # s = k * h
    s = float(tr.t[k])
    assert float(tr.xs[k].mean()) == pytest.approx(3.0 * math.exp(-theta * s), rel=0.05)


def test_langevin_with_a_gaussian_score_samples_the_gaussian():
    m = torch.tensor([1.0, -2.0], dtype=torch.float64)
    tr = langevin(
        lambda x: -(x - m) / 0.25,
        torch.zeros(10000, 2, dtype=torch.float64),
        sigma=1.0,
        duration=4.0,
        steps=800,
        seed=2,
    )
    assert torch.allclose(tr.x.mean(0), m, atol=0.03)
    assert torch.allclose(tr.x.var(0), torch.full((2,), 0.25, dtype=torch.float64), rtol=0.07)


def test_langevin_with_the_exact_score_reaches_the_target():
    target = load_target("eight_gaussians").exact
    x0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 3
    tr = langevin_to_target(target, x0, sigma=1.0, duration=20.0, steps=2000, seed=4)
    fresh = target.sample(2000, seed=5, dtype=torch.float64)
    floor = energy_distance(target.sample(2000, seed=6, dtype=torch.float64), fresh)
    ed = energy_distance(tr.x, fresh)
    start = energy_distance(x0, fresh)
    assert ed < 3 * floor + 5e-3, (ed, floor)
    assert ed < start / 20


def test_annealed_langevin_reaches_a_point_set_blurred_target():
    target = ExactMarginal([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], widths=0.0)
    x0 = torch.randn(1500, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    tr = annealed_langevin(target, x0, levels=15, steps_per_level=30, step_size=0.2, seed=8)
    assert float(tr.t[-1]) == pytest.approx(0.98) and tr.xs.shape[0] == 16
    # the end law is p_0.98: the points blurred by beta = 0.02
    g = torch.Generator().manual_seed(9)
    ref = target.sample(1500, generator=g, dtype=torch.float64) * 0.98
    ref = ref + 0.02 * torch.randn(1500, 2, generator=g, dtype=torch.float64)
    floor = energy_distance(target.sample(1500, seed=10, dtype=torch.float64), ref)
    assert energy_distance(tr.x, ref) < 3 * floor + 5e-3


def test_dynamics_reject_bad_arguments():
    with pytest.raises(ValueError, match="theta"):
        ornstein_uhlenbeck(torch.zeros(3, 2), theta=0.0)
    with pytest.raises(ValueError, match="steps"):
        brownian_motion(torch.zeros(3, 2), steps=0)
    with pytest.raises(ValueError, match="x0"):
        brownian_motion(torch.zeros(3))


@pytest.mark.parametrize("schedule", ["condot", "cosine"])
@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_conditional_sde_has_the_conditional_path_marginals(schedule, sigma):
    from flowscope.core.dynamics import conditional_sde
    from flowscope.core.schedules import get_schedule

    n = 20000
    z = torch.tensor([2.0, -1.0], dtype=torch.float64).expand(n, 2)
    x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    tr = conditional_sde(schedule, z, x0, steps=200, sigma=sigma, seed=12)
    v = get_schedule(schedule)(torch.tensor(0.5, dtype=torch.float64))
    mid = tr.xs[100]
    assert float(tr.t[100]) == pytest.approx(0.5)
    assert torch.allclose(mid.mean(0), float(v.alpha) * z[0], atol=0.03)
    want = torch.full((2,), float(v.beta) ** 2, dtype=torch.float64)
    assert torch.allclose(mid.var(0), want, rtol=0.05)
    assert float((tr.x - z).norm(dim=1).mean()) < 0.05  # X_1 = z
