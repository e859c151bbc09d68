"""The posterior lens: w_i(x, t) and the component fields average to the marginal ones."""

import pytest
import torch

from flowscope.core import exact as exact_mod
from flowscope.core.exact import ExactMarginal
from flowscope.core.paths import conditional_score, conditional_velocity

SCHEDULES = ("condot", "cosine", "vp", "sqrt")


def _mixture(schedule, widths=(0.3, 0.1, 0.5, 0.2, 0.4), labels=None):
    g = torch.Generator().manual_seed(3)
    means = torch.randn(len(widths), 2, generator=g, dtype=torch.float64) * 2
    weights = torch.rand(len(widths), generator=g, dtype=torch.float64) + 0.2
    return ExactMarginal(means, weights, torch.tensor(widths), labels, schedule)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("t", [0.0, 0.37, 0.9, 1.0])
def test_weighted_component_fields_are_the_marginal_fields(schedule, t):
    ex = _mixture(schedule)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    w = ex.posterior(x, t)
    assert w.shape == (64, 5)
    torch.testing.assert_close(w.sum(1), torch.ones(64, dtype=torch.float64))
    u = (w[:, :, None] * ex.component_velocities(x, t)).sum(1)
    s = (w[:, :, None] * ex.component_scores(x, t)).sum(1)
    torch.testing.assert_close(u, ex.velocity(x, t), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(s, ex.score(x, t), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_labelled_posterior_restricts_to_the_class(schedule):
    ex = _mixture(schedule, labels=[0, 1, 0, 1, 1])
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    t = torch.rand(40, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    t[:5] = 1.0
    w = ex.posterior(x, t, y=1)
    assert torch.all(w[:, [0, 2]] == 0)
    u = (w[:, :, None] * ex.component_velocities(x, t)).sum(1)
    torch.testing.assert_close(u, ex.velocity(x, t, y=1), rtol=1e-9, atol=1e-9)
    s = (w[:, :, None] * ex.component_scores(x, t)).sum(1)
    torch.testing.assert_close(s, ex.score(x, t, y=1), rtol=1e-9, atol=1e-9)
    # y = -1 per row: every component
    yy = torch.full((40,), -1)
    torch.testing.assert_close(ex.posterior(x, t, yy), ex.posterior(x, t))


def test_posterior_is_bayes_rule_by_hand():
    ex = ExactMarginal([[0.0, 0.0], [3.0, 0.0]], [0.25, 0.75], [0.5, 1.0], schedule="condot")
    x = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    t = 0.6
    s2 = torch.tensor([(t * 0.5) ** 2 + (1 - t) ** 2, (t * 1.0) ** 2 + (1 - t) ** 2])
    m = torch.tensor([[0.0, 0.0], [3 * t, 0.0]])
    dens = torch.tensor([0.25, 0.75]) * torch.exp(-((x.float() - m) ** 2).sum(1) / (2 * s2)) / s2
    torch.testing.assert_close(ex.posterior(x, t)[0].float(), dens / dens.sum())


@pytest.mark.parametrize("schedule", ("condot", "cosine"))
def test_point_component_field_is_the_course_conditional_field(schedule):
    ex = ExactMarginal([[1.0, -2.0], [0.5, 0.5]], schedule=schedule)
    x = torch.randn(10, 2, dtype=torch.float64)
    t = 0.4
    z = ex.means[0].expand(10, 2)
    torch.testing.assert_close(
        ex.component_velocities(x, t)[:, 0], conditional_velocity(schedule, x, z, t)
    )
    torch.testing.assert_close(
        ex.component_scores(x, t)[:, 0], conditional_score(schedule, x, z, t)
    )


def test_posterior_refuses_more_than_the_cap(monkeypatch):
    monkeypatch.setattr(exact_mod, "MAX_POSTERIOR_ENTRIES", 100)
    ex = _mixture("condot")
    with pytest.raises(ValueError, match="cap"):
        ex.posterior(torch.zeros(21, 2), 0.5)
    assert ex.posterior(torch.zeros(20, 2), 0.5).shape == (20, 5)


@pytest.mark.parametrize("schedule", ("condot", "cosine", "vp"))
def test_conditional_trajectory_solves_the_conditional_ode(schedule):
    from flowscope.core.paths import conditional_trajectory

    z = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    x0 = torch.tensor([[0.3, -0.2], [0.0, 1.0]], dtype=torch.float64)
    ts, xs = conditional_trajectory(schedule, z, x0, steps=200)
    torch.testing.assert_close(xs[0], x0)
    torch.testing.assert_close(xs[-1], z, atol=1e-12, rtol=0)
    # finite differences of the closed form match u_t(x | z) (away from t = 1)
    k = 80
    h = float(ts[1] - ts[0])
    fd = (xs[k + 1] - xs[k - 1]) / (2 * h)
    torch.testing.assert_close(
        fd, conditional_velocity(schedule, xs[k], z, float(ts[k])), rtol=1e-3, atol=1e-4
    )
