"""The exact bridge oracle against a dense numpy computation, ExactMarginal, sampled pairs and
the continuity equation."""

import math

import numpy as np
import pytest
import torch

from flowscope.core.bridge import ExactBridge, is_standard_gaussian, standard_gaussian
from flowscope.core.exact import ExactMarginal
from flowscope.core.metrics import energy_distance
from flowscope.core.schedules import get_schedule

SCHEDULES = ("condot", "cosine", "vp", "sqrt")


def _source(schedule="condot"):
    return ExactMarginal(
        [[-2.0, 0.0], [2.0, 1.0], [0.0, -1.5]], [0.5, 0.3, 0.2], [0.4, 0.6, 0.3], schedule=schedule
    )


def _target(schedule="condot", labels=None):
    return ExactMarginal(
        [[0.0, 2.0], [1.5, -1.0], [-1.0, -1.0], [3.0, 3.0]],
        [0.1, 0.4, 0.3, 0.2],
        [0.2, 0.5, 0.35, 0.25],
        labels,
        schedule=schedule,
    )


def _dense(src, tgt, x, t, y=None):
    """Independent numpy loops over pairs (no streaming)."""
    v = get_schedule(tgt.schedule)(torch.tensor(t, dtype=torch.float64))
    a, b, da, db = (float(q) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta))
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    logs, us, ss = [], [], []
    for i in range(src.n_components):
        for j in range(tgt.n_components):
            if y is not None and int(tgt.labels[j]) != y:
                continue
            nu, g = src.means[i].numpy(), float(src.widths[i])
            mu, h = tgt.means[j].numpy(), float(tgt.widths[j])
            m = a * mu + b * nu
            s2 = a * a * h * h + b * b * g * g
            diff = x - m
            logs.append(
                math.log(float(src.weights[i]) * float(tgt.weights[j]))
                - 0.5 * (diff**2).sum(1) / s2
                - 0.5 * d * math.log(2 * math.pi * s2)
            )
            e1 = mu + (a * h * h / s2) * diff
            e0 = nu + (b * g * g / s2) * diff
            us.append(da * e1 + db * e0)
            ss.append(-diff / s2)
    lg = np.stack(logs, 1)
    mx = lg.max(1, keepdims=True)
    w = np.exp(lg - mx)
    logp = (mx[:, 0] + np.log(w.sum(1))) - (
        0 if y is None else math.log(float(tgt.weights[tgt.labels == y].sum()))
    )
    w = w / w.sum(1, keepdims=True)
    u = (w[:, :, None] * np.stack(us, 1)).sum(1)
    s = (w[:, :, None] * np.stack(ss, 1)).sum(1)
    return logp, u, s


def _x(n=50, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2


@pytest.mark.parametrize("schedule", ("condot", "cosine"))
@pytest.mark.parametrize("t", [0.0, 0.3, 0.75, 1.0])
def test_bridge_matches_dense_numpy(schedule, t):
    br = ExactMarginal.bridge(_source(schedule), _target(schedule))
    x = _x()
    f = br.evaluate(x, t)
    logp, u, s = _dense(br.source, br.target, x.numpy(), t)
    np.testing.assert_allclose(f.log_prob.numpy(), logp, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(f.velocity.numpy(), u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f.score.numpy(), s, rtol=1e-9, atol=1e-9)


def test_bridge_streams_small_blocks_and_labels_like_dense():
    tgt = _target(labels=[0, 1, 1, 0])
    br = ExactBridge(_source(), tgt, max_block=16)  # one pair per block, one row per block
    x = _x(30, 1)
    for y in (None, 1):
        f = br.evaluate(x, 0.6, y)
        logp, u, s = _dense(br.source, tgt, x.numpy(), 0.6, y)
        np.testing.assert_allclose(f.log_prob.numpy(), logp, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(f.velocity.numpy(), u, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(f.score.numpy(), s, rtol=1e-9, atol=1e-9)


def test_one_t_for_all_rows_equals_per_row_times_and_velocity_equals_evaluate():
    """A scalar t takes the shared-schedule path (pair terms once per block); per-row times,
    the velocity-only pass and one point at a time must all give the same fields."""
    tgt = _target(labels=[0, 1, 1, 0])
    br = ExactBridge(_source(), tgt, max_block=64)  # several row chunks and pair blocks
    x = _x(70, 3)
    for y in (None, 1):
        f = br.evaluate(x, 0.4, y)
        two = torch.tensor([0.4] * 35 + [0.7] * 35, dtype=torch.float64)  # per-row path
        rows = br.evaluate(x, two, y)
        torch.testing.assert_close(f.log_prob[:35], rows.log_prob[:35], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(f.velocity[:35], rows.velocity[:35], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(f.score[:35], rows.score[:35], rtol=1e-12, atol=1e-12)
        late = br.evaluate(x[35:], 0.7, y)
        torch.testing.assert_close(late.velocity, rows.velocity[35:], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(br.velocity(x, 0.4, y), f.velocity, rtol=1e-12, atol=1e-12)
        one = br.evaluate(x[5:6], 0.4, y)
        torch.testing.assert_close(one.velocity, f.velocity[5:6], rtol=1e-12, atol=1e-12)
    tt = torch.linspace(0.05, 0.95, 70, dtype=torch.float64)  # really different times
    f = br.evaluate(x, tt)
    logp, u, s = _dense(br.source, tgt, x[:1].numpy(), 0.05)
    np.testing.assert_allclose(f.velocity[:1].numpy(), u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f.score[:1].numpy(), s, rtol=1e-9, atol=1e-9)
    logp, u, s = _dense(br.source, tgt, x[-1:].numpy(), 0.95)
    np.testing.assert_allclose(br.velocity(x, tt)[-1:].numpy(), u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f.log_prob[-1:].numpy(), logp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("t", [0.0, 0.2, 0.5, 0.99, 1.0])
def test_standard_gaussian_source_reproduces_exact_marginal(schedule, t):
    tgt = _target(schedule, labels=[0, 1, 1, 0])
    src = standard_gaussian(2, schedule)
    assert is_standard_gaussian(src) and not is_standard_gaussian(_source())
    br = ExactBridge(src, tgt)
    x = _x(40, 2)
    for y in (None, 0):
        fb, fe = br.evaluate(x, t, y), tgt.evaluate(x, t, y)
        torch.testing.assert_close(fb.log_prob, fe.log_prob, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(fb.velocity, fe.velocity, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(fb.score, fe.score, rtol=1e-9, atol=1e-9)
    # per-row times too, including t = 1 for vp / sqrt
    tt = torch.linspace(0, 1, 40, dtype=torch.float64)
    torch.testing.assert_close(br.velocity(x, tt), tgt.velocity(x, tt), rtol=1e-9, atol=1e-9)


def test_endpoints_are_the_source_and_target_densities():
    src, tgt = _source(), _target()
    br = ExactBridge(src, tgt)
    x = _x(60, 3)
    # a mixture with widths > 0 at t = 1 under its own path is the mixture density itself
    torch.testing.assert_close(br.log_prob(x, 0.0), src.log_prob(x, 1.0), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(br.log_prob(x, 1.0), tgt.log_prob(x, 1.0), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0])
def test_density_integrates_to_one(t):
    br = ExactBridge(_source(), _target())
    g = torch.linspace(-9, 9, 361, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    mass = br.log_prob(pts, t).exp().sum() * (g[1] - g[0]) ** 2
    assert abs(float(mass) - 1.0) < 1e-6


@pytest.mark.parametrize("schedule", ("condot", "cosine", "vp"))
@pytest.mark.parametrize("t", [0.2, 0.55, 0.85])
def test_continuity_equation(schedule, t):
    """d/dt log p + div u + u . grad log p = 0 (autograd divergence, central difference in t)."""
    br = ExactBridge(_source(schedule), _target(schedule))
    x = _x(25, 4).requires_grad_(True)
    f = br.evaluate(x, t)
    div = torch.zeros(25, dtype=torch.float64)
    for k in range(2):
        div += torch.autograd.grad(f.velocity[:, k].sum(), x, retain_graph=True)[0][:, k]
    h = 1e-5
    with torch.no_grad():
        dlogp = (br.log_prob(x, t + h) - br.log_prob(x, t - h)) / (2 * h)
        residual = dlogp + div + (f.velocity * f.score).sum(1)
    assert float(residual.abs().max()) < 1e-5
    # the score really is the gradient of log p
    grad = torch.autograd.grad(f.log_prob.sum(), x)[0]
    torch.testing.assert_close(grad, f.score.detach(), rtol=1e-8, atol=1e-8)


def test_density_matches_sampled_pairs():
    br = ExactBridge(_source(), _target())
    xt = br.sample_path(3000, 0.5, seed=0)
    # samples by inverse check: draw from the oracle via importance resampling on a grid
    g = torch.linspace(-8, 8, 321, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    p = br.log_prob(pts, 0.5).exp()
    gen = torch.Generator().manual_seed(1)
    idx = torch.multinomial(p, 3000, replacement=True, generator=gen)
    jitter = (torch.rand(3000, 2, generator=gen, dtype=torch.float64) - 0.5) * (g[1] - g[0])
    from_density = pts[idx] + jitter
    ed = energy_distance(xt, from_density)
    # the floor: two independent batches of sampled pairs
    floor = energy_distance(xt, br.sample_path(3000, 0.5, seed=7))
    wrong = energy_distance(xt, br.sample_path(3000, 0.3, seed=7))
    assert ed < 3 * floor + 2e-3 and ed < wrong / 3


def test_pair_posterior_sums_and_averages_to_velocity():
    br = ExactBridge(_source("cosine"), _target("cosine"))
    x = _x(20, 5)
    w = br.posterior(x, 0.4)
    assert w.shape == (20, 3, 4)
    torch.testing.assert_close(w.sum((1, 2)), torch.ones(20, dtype=torch.float64))
    # the marginal over source components at t = 0 is the source posterior at "t = 1"
    torch.testing.assert_close(
        br.posterior(x, 0.0).sum(2), br.source.posterior(x, 1.0), rtol=1e-9, atol=1e-12
    )


def test_bridge_rejects_dimension_mismatch():
    with pytest.raises(ValueError, match="3-D"):
        ExactBridge(ExactMarginal(np.zeros((1, 3))), _target())


def test_flow_log_likelihood_of_the_bridge_is_the_target_density():
    """Integrating the bridge's exact field back from t = 1 with the source density at t = 0
    (metrics.log_likelihood uses source_log_prob) gives log p_1 = the target's density."""
    from flowscope.core.metrics import log_likelihood

    br = ExactBridge(_source(), _target())
    x1 = br.sample(12, seed=3, dtype=torch.float64)
    ll = log_likelihood(br, x1, steps=60)
    torch.testing.assert_close(ll, br.target.log_prob(x1, 1.0), rtol=0, atol=2e-3)
