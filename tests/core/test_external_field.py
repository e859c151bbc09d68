"""ExternalField: a field written in another library's conventions, wrapped, is the exact field.

The fields below are written IN THE TEST, analytically, for Gaussian data N(m, s^2 I) on the
CondOT path, in the diffusion convention (t' = 1 noise, x_t' = (1 - t') z + t' eps); the oracle
is flowscope's ExactMarginal of the same Gaussian (one component of width s)."""

import pytest
import torch
from torch import nn

from flowscope.core.exact import ExactMarginal
from flowscope.core.external import ExternalField
from flowscope.core.samplers import sample, sample_ode

M = torch.tensor([1.5, -0.5], dtype=torch.float64)
S = 0.3


def _oracle() -> ExactMarginal:
    return ExactMarginal(M[None, :], widths=[S])


def _stats_t1_noise(tp):
    """Mean, variance and d variance / dt' of x_t' at the diffusion time t' ((N, 1) columns)."""
    a = 1.0 - tp  # alpha
    var = a**2 * S**2 + tp**2
    d_var = -2.0 * a * S**2 + 2.0 * tp
    return a * M, var, d_var


def velocity_t1_noise(x, tp):
    """dx/dt' of the marginal flow when t' = 1 is noise: -m + (d var / 2 var)(x - (1 - t') m)."""
    tp = tp.reshape(-1, 1).to(x.dtype)
    mean, var, d_var = _stats_t1_noise(tp)
    return -M + d_var / (2.0 * var) * (x - mean)


def noise_t1_noise(x, tp):
    """E[eps | x_t'] = t' (x - (1 - t') m) / var (the eps of x_t' = (1 - t') z + t' eps)."""
    tp = tp.reshape(-1, 1).to(x.dtype)
    mean, var, _ = _stats_t1_noise(tp)
    return tp * (x - mean) / var


class VelocityNet(nn.Module):
    """The same field as an nn.Module taking (x, t), as Meta's flow_matching ModelWrapper does."""

    def forward(self, x, t):
        return velocity_t1_noise(x, t)


def _points(n=200, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("fn", [velocity_t1_noise, VelocityNet()])
def test_flipped_velocity_is_the_exact_field(fn):
    field = ExternalField(fn, time_convention="t1_noise")
    exact, x = _oracle(), _points() * 2
    for t in (0.0, 0.25, 0.5, 0.9):
        torch.testing.assert_close(field.velocity(x, t), exact.velocity(x, t), rtol=0, atol=1e-9)
        torch.testing.assert_close(field.score(x, t), exact.score(x, t), rtol=0, atol=1e-6)


def test_without_the_flip_it_is_wrong():
    """Guards the test itself: the convention matters, so a missing flip is caught."""
    field = ExternalField(velocity_t1_noise, time_convention="t0_noise")
    x = _points()
    assert (field.velocity(x, 0.25) - _oracle().velocity(x, 0.25)).abs().max() > 0.5


def test_samples_through_the_wrapper_match_the_oracle():
    field = ExternalField(velocity_t1_noise, time_convention="t1_noise")
    exact, x0 = _oracle(), _points(500, seed=1)
    mine = sample_ode(field, x0, steps=40, solver="rk4").x
    theirs = sample_ode(exact, x0, steps=40, solver="rk4").x
    assert (mine - theirs).abs().max() < 1e-6
    assert (mine.mean(0) - M).abs().max() < 0.05  # and they land on the data
    assert abs(mine.std(0).mean().item() - S) < 0.05


def test_noise_prediction_is_converted_to_velocity_and_score():
    field = ExternalField(noise_t1_noise, parameterization="noise", time_convention="t1_noise")
    exact, x = _oracle(), _points()
    for t in (0.1, 0.5, 0.8):
        torch.testing.assert_close(field.velocity(x, t), exact.velocity(x, t), rtol=0, atol=1e-6)
        torch.testing.assert_close(field.score(x, t), exact.score(x, t), rtol=0, atol=1e-6)
    # the SDE needs the score too: same marginals as the oracle's SDE with the same noise
    x0 = _points(300, seed=2)
    a = sample(field, x0, steps=30, sigma=0.5, seed=3).x
    b = sample(exact, x0, steps=30, sigma=0.5, seed=3).x
    # the first step differs a little: a noise model's velocity at t = 0 (alpha_0 = 0) is taken
    # at t = 0.01, like flowscope's own noise networks (measured 2e-4)
    assert (a - b).abs().max() < 1e-3


def test_labels_are_passed_and_bad_settings_refused():
    seen = []

    def fn(x, t, y=None):
        seen.append(y)
        return torch.zeros_like(x)

    field = ExternalField(fn, classes=["a", "b"])
    field.velocity(_points(4), 0.5, 1)
    assert field.num_classes == 2 and seen[-1].tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="time_convention"):
        ExternalField(fn, time_convention="t1_data")
    with pytest.raises(ValueError, match="parameterization"):
        ExternalField(fn, parameterization="x0")
    with pytest.raises(ValueError, match="shape"):
        ExternalField(lambda x, t: x[:, :1]).velocity(_points(4), 0.5)


def test_as_field_keeps_fields_and_calls_a_module_in_its_own_dtype():
    from flowscope.core.exact import ExactMarginal
    from flowscope.core.external import as_field

    exact = ExactMarginal([[1.0, 0.0]], widths=0.3)
    assert as_field(exact) is exact  # already a field: unchanged

    class Linear64(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(-1.0, dtype=torch.float64))

        def forward(self, x, t):
            assert x.dtype == torch.float64 and t.dtype == torch.float64
            return self.a * x * (1 - t[:, None])

    f = as_field(Linear64())
    x = torch.randn(5, 2)
    u = f.velocity(x, 0.25)
    assert u.dtype == x.dtype
    torch.testing.assert_close(u, -0.75 * x)
