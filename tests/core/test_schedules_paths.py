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
    torch.testing.assert_close(s, -x)  # exact: no clamp of t any more


def test_time_tensor_rejects_bad_shape():
    with pytest.raises(ValueError, match="t must be"):
        paths.time_tensor(torch.zeros(3), 5, torch.zeros(5, 2))


# --------------------------------------------------------------- conversions at the ends (issue 9)

EM_END = ExactMarginal([[2.0, 0.0]], widths=[0.3])


@pytest.mark.parametrize("name", ["condot", "cosine", "vp", "sqrt"])
@pytest.mark.parametrize("t", [0.002, 0.005, 0.995, 0.9995])
def test_conversions_use_the_coefficients_of_the_time_given(name, t):
    """Inside the old clamp zones ([0, 0.01) and (0.999, 1]) the exact u and s still convert
    into each other exactly: the conversion may not use another time's coefficients."""
    em = EM_END.with_schedule(name)
    x = torch.tensor([[0.5, -1.0], [1.9, 0.1], [-0.3, 0.8]], dtype=torch.float64)
    f = em.evaluate(x, t)
    torch.testing.assert_close(paths.score_to_velocity(name, f.score, x, t), f.velocity)
    torch.testing.assert_close(paths.velocity_to_score(name, f.velocity, x, t), f.score)
    eps = -em.schedule(torch.tensor(t, dtype=torch.float64)).beta * f.score
    torch.testing.assert_close(paths.noise_to_velocity(name, eps, x, t), f.velocity)
    torch.testing.assert_close(paths.velocity_to_noise(name, f.velocity, x, t), eps)


def test_the_issue_examples_at_the_ends():
    x = torch.tensor([[1.9, 0.1]], dtype=torch.float64)
    f = EM_END.evaluate(x, 0.9995)
    s = paths.velocity_to_score("condot", f.velocity, x, 0.9995)
    torch.testing.assert_close(s, f.score)
    assert s[0, 0].item() == pytest.approx(1.10, abs=0.01)  # the old code gave -0.40


@pytest.mark.parametrize("parameterization", ["velocity", "score", "noise"])
@pytest.mark.parametrize("name", ["condot", "cosine", "vp"])
def test_a_perfect_network_gives_the_exact_field_at_the_ends(parameterization, name):
    """A perfect network of any parameterization is evaluated and converted at one time: at
    t = 0 the velocity of score/noise models comes from t = T_MIN_ALPHA, within O(T_MIN_ALPHA)
    of u_0 (the old code converted the t = 0 output with t = 0.01's coefficients: (0.5, -1)
    instead of (1.5, 1.0) for the score, 0 for the noise model)."""
    from oracle_models import oracle_model

    em = EM_END.with_schedule(name)
    model = oracle_model(em, parameterization)
    x = torch.tensor([[0.5, -1.0], [1.9, 0.1]], dtype=torch.float64)
    for t, tol in [(0.0, 0.05), (0.004, 0.05), (0.5, 1e-5), (0.9995, 1e-4), (1.0, 1e-4)]:
        if name == "vp" and t >= 0.999 and parameterization == "noise":
            continue  # noise -> velocity needs d_beta_t, infinite at t = 1 for vp
        u = model.velocity(x.float(), t).double()
        torch.testing.assert_close(u, em.velocity(x, t), atol=tol, rtol=1e-4)
    if name == "condot":  # the issue's example: u_0(0.5, -1) = E[z] - x = (1.5, 1.0)
        u0 = model.velocity(x.float(), 0.0)[0].double()
        torch.testing.assert_close(u0, torch.tensor([1.5, 1.0], dtype=torch.float64), atol=0.05,
                                   rtol=0)
    for t, tol in [(0.0, 1e-5), (0.5, 1e-5), (0.9, 1e-3)]:
        u, s = model.velocity_and_score(x.float(), t)
        torch.testing.assert_close(s.double(), em.score(x, t), atol=tol, rtol=1e-4)
        torch.testing.assert_close(u.double(), em.velocity(x, t), atol=0.05, rtol=1e-4)


def test_conversion_time_is_the_identity_where_nothing_is_singular():
    t = torch.linspace(0, 1, 11)
    assert paths.conversion_time("condot", t, "velocity", "velocity") is t
    assert paths.conversion_time("condot", t, "score", "noise") is t
    lo = paths.conversion_time("condot", t, "score", "velocity")
    assert lo.min().item() == pytest.approx(paths.T_MIN_ALPHA)
    hi = paths.conversion_time("condot", t, "velocity", "score")
    assert hi.max().item() == pytest.approx(1 - paths.T_EDGE)


@pytest.mark.parametrize("spec", ["poly0.5", "poly0.9", "poly0", "poly0.25", "polynan"])
def test_polynomial_below_one_is_refused_with_a_message(spec):
    with pytest.raises(ValueError, match=r"n >= 1|unknown schedule"):
        get_schedule(spec)


@pytest.mark.parametrize("name", ["poly1", "poly1.5", "poly2", "poly3"])
def test_polynomial_schedules_sample_finite_points(name):
    from flowscope.core.samplers import sample_ode

    em = ExactMarginal([[1.0, 0.0]], widths=[0.2], schedule=name)
    x = sample_ode(em, torch.randn(64, 2, dtype=torch.float64), steps=50).x
    assert torch.isfinite(x).all()
    assert (x.mean(0) - torch.tensor([1.0, 0.0], dtype=torch.float64)).norm() < 0.15


@pytest.mark.parametrize("name", ALL)
def test_beta_d_beta_is_the_product_and_finite_at_one(name):
    s = get_schedule(name)
    t = torch.linspace(0.0, 0.99, 50, dtype=torch.float64)
    v = s(t)
    torch.testing.assert_close(v.beta_d_beta, v.beta * v.d_beta)
    assert torch.isfinite(s(torch.tensor(1.0, dtype=torch.float64)).beta_d_beta)
