"""Schedules, path sampling, conditional targets and conversions against closed forms."""

import pytest
import torch

from flowscope.core import paths
from flowscope.core.exact import ExactMarginal
from flowscope.core.schedules import SCHEDULE_NAMES, get_schedule

ALL = list(SCHEDULE_NAMES) + ["poly1.5"]


@pytest.mark.parametrize("name", ALL)
def test_endpoints(name):
    s = get_schedule(name)
    v0, v1 = s(0.0), s(1.0)
    assert float(v0.alpha) == pytest.approx(0.0, abs=1e-7)
    assert float(v0.beta) == pytest.approx(1.0, abs=1e-7)
    assert float(v1.alpha) == pytest.approx(1.0, abs=1e-7)
    assert float(v1.beta) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("name", ALL)
def test_derivatives_match_finite_differences(name):
    s = get_schedule(name)
    t = torch.linspace(0.02, 0.97, 40, dtype=torch.float64)
    h = 1e-6
    v, vp, vm = s(t), s(t + h), s(t - h)
    fd_a = (vp.alpha - vm.alpha) / (2 * h)
    fd_b = (vp.beta - vm.beta) / (2 * h)
    torch.testing.assert_close(v.d_alpha, fd_a, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(v.d_beta, fd_b, rtol=1e-5, atol=1e-6)


def test_unknown_schedule_message():
    with pytest.raises(ValueError, match="choose one of"):
        get_schedule("banana")


@pytest.mark.parametrize("name", ["condot", "cosine", "vp"])
def test_path_endpoints_and_targets(name):
    z = torch.randn(500, 2, dtype=torch.float64)
    eps = torch.randn(500, 2, dtype=torch.float64)
    p0 = paths.sample_path(name, z, 0.0, eps)
    p1 = paths.sample_path(name, z, 1.0, eps)
    torch.testing.assert_close(p0.x_t, eps)
    torch.testing.assert_close(p1.x_t, z)
    t = torch.rand(500, dtype=torch.float64) * 0.9 + 0.05
    p = paths.sample_path(name, z, t, eps)
    # the conditional field formula at x_t equals d_alpha z + d_beta eps
    u = paths.conditional_velocity(name, p.x_t, z, t)
    torch.testing.assert_close(u, p.velocity)
    torch.testing.assert_close(paths.conditional_score(name, p.x_t, z, t), p.score)


def test_condot_target_is_z_minus_eps():
    z, eps = torch.randn(10, 2), torch.randn(10, 2)
    p = paths.sample_path("condot", z, torch.rand(10), eps)
    torch.testing.assert_close(p.velocity, z - eps)


@pytest.mark.parametrize("name", ["condot", "cosine", "vp", "poly2"])
def test_conversion_round_trips(name):
    x = torch.randn(300, 2, dtype=torch.float64)
    v = torch.randn(300, 2, dtype=torch.float64)
    t = torch.rand(300, dtype=torch.float64) * 0.9 + 0.05
    for a, b in [("velocity", "score"), ("score", "noise"), ("noise", "velocity")]:
        back = paths.convert(name, paths.convert(name, v, x, t, a, b), x, t, b, a)
        torch.testing.assert_close(back, v, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["condot", "cosine", "vp"])
def test_conversion_maps_exact_score_to_exact_velocity(name):
    """MATH.md's u <-> s relation holds for the true marginal of a Gaussian mixture."""
    em = ExactMarginal(
        torch.tensor([[-1.5, 0.0], [1.0, 1.0], [0.5, -2.0]]),
        weights=[0.5, 0.3, 0.2],
        widths=[0.3, 0.1, 0.2],
        schedule=name,
    )
    x = torch.randn(400, 2, dtype=torch.float64) * 1.5
    t = torch.rand(400, dtype=torch.float64) * 0.8 + 0.1
    f = em.evaluate(x, t)
    torch.testing.assert_close(paths.score_to_velocity(name, f.score, x, t), f.velocity)
    torch.testing.assert_close(paths.velocity_to_score(name, f.velocity, x, t), f.score)


def test_condot_score_at_t0_is_standard_normal_score():
    x = torch.randn(50, 2, dtype=torch.float64)
    u = torch.randn(50, 2, dtype=torch.float64)
    s = paths.velocity_to_score("condot", u, x, 0.0)
    torch.testing.assert_close(s, -x, atol=2e-3, rtol=0)


def test_time_tensor_rejects_bad_shape():
    with pytest.raises(ValueError, match="t must be"):
        paths.time_tensor(torch.zeros(3), 5, torch.zeros(5, 2))
