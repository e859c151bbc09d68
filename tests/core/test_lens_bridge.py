"""The posterior lens and the conditional path for a non-Gaussian source p_init (issue 14):
the posterior average of the pair fields is the bridge oracle's velocity / score, the pair
posterior matches ExactBridge.posterior, and the conditional path p_t(x | z) of a mixture source
matches the oracle of the bridge source -> point z and sampled (x_0 from the source, z fixed)."""

import numpy as np
import pytest
import torch

# the same source and target mixtures as the bridge oracle's own tests
from test_bridge import SCHEDULES, _source, _target

from flowscope.core.bridge import ExactBridge, standard_gaussian
from flowscope.core.conditional_bridge import ConditionalSource
from flowscope.core.exact import ExactMarginal
from flowscope.core.lens import LensMixture
from flowscope.core.lens_bridge import LensBridge
from flowscope.core.metrics import energy_distance
from flowscope.core.schedules import get_schedule


def _values(schedule, t):
    v = get_schedule(schedule)(torch.tensor([float(t)], dtype=torch.float64))
    return tuple(float(q[0]) for q in (v.alpha, v.beta, v.d_alpha, v.d_beta))


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_pair_posterior_average_is_the_bridge_velocity_and_score(schedule):
    br = ExactBridge(_source(schedule), _target(schedule))
    lens = LensBridge(br)
    rng = np.random.default_rng(1)
    for _ in range(12):
        x = rng.uniform(-3, 3, 2)
        t = float(rng.uniform(0.0, 0.98))
        p = lens.at(x, t, top=lens.n_components)
        xt = torch.tensor(x[None], dtype=torch.float64)
        f = br.evaluate(xt, t)
        np.testing.assert_allclose(p.velocity, f.velocity[0].numpy(), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(p.score, f.score[0].numpy(), rtol=1e-7, atol=1e-9)
        # the weights are ExactBridge.posterior's; the drawn pair fields average to u_t(x)
        post = br.posterior(xt, t)[0].numpy()
        np.testing.assert_allclose(p.weights.reshape(post.shape), post, atol=1e-10)
        w = p.weights[p.index]
        np.testing.assert_allclose(w @ p.velocities, p.velocity, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(w @ p.scores, p.score, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(p.target_weights, post.sum(0), atol=1e-10)
        np.testing.assert_allclose(p.source_weights, post.sum(1), atol=1e-10)
        # each drawn pair field is d_alpha E[x_1 | x, ij] + d_beta E[x_0 | x, ij]
        a, b, da, db = _values(schedule, t)
        for k, (i, j) in enumerate(p.pairs):
            nu, g2 = br.source.means[i].numpy(), float(br.source.widths[i]) ** 2
            mu, h2 = br.target.means[j].numpy(), float(br.target.widths[j]) ** 2
            s2 = a * a * h2 + b * b * g2
            m = a * mu + b * nu
            e1 = mu + a * h2 / s2 * (x - m)
            e0 = nu + b * g2 / s2 * (x - m)
            np.testing.assert_allclose(p.velocities[k], da * e1 + db * e0, rtol=1e-9, atol=1e-9)


def test_bridge_lens_restricts_to_a_class_and_keeps_the_top_pairs():
    br = ExactBridge(_source(), _target(labels=[0, 1, 0, 1]))
    lens = LensBridge(br)
    x, t = np.array([0.3, -0.4]), 0.6
    p = lens.at(x, t, y=1, top=3)
    assert p.target_weights[[0, 2]].max() == 0.0
    f = br.evaluate(torch.tensor(x[None]), t, y=1)
    np.testing.assert_allclose(p.velocity, f.velocity[0].numpy(), rtol=1e-7)
    assert len(p.index) == 3 and np.all(np.diff(p.weights[p.index]) <= 0)
    assert 0 < p.mass <= 1


def test_standard_gaussian_source_gives_the_plain_lens():
    tgt = _target("cosine")
    plain = LensMixture(tgt)
    lens = LensBridge(ExactBridge(standard_gaussian(2, "cosine"), tgt))
    for x, t in (([0.5, 1.0], 0.3), ([-2.0, 0.1], 0.9)):
        a, b = plain.at(x, t, top=4), lens.at(x, t, top=4)
        np.testing.assert_allclose(b.velocity, a.velocity, rtol=1e-9)
        np.testing.assert_allclose(b.score, a.score, rtol=1e-9)
        np.testing.assert_allclose(b.target_weights, a.weights, atol=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_conditional_path_of_a_mixture_source_is_the_oracle_of_source_to_point(schedule):
    src = _source(schedule)
    cs = ConditionalSource(src)
    z = np.array([1.2, -0.7])
    oracle = ExactBridge(src, ExactMarginal(z[None], widths=0.0, schedule=schedule))
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (40, 2))
    for t in (0.0, 0.3, 0.7, 0.95):
        a, b, da, db = _values(schedule, t)
        f = oracle.evaluate(torch.tensor(x), t)
        np.testing.assert_allclose(cs.log_prob(x, z, a, b), f.log_prob.numpy(), rtol=1e-9,
                                   atol=1e-9)  # fmt: skip
        np.testing.assert_allclose(cs.score(x, z, a, b), f.score.numpy(), rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(cs.velocity(x, z, a, b, da, db), f.velocity.numpy(),
                                   rtol=1e-8, atol=1e-8)  # fmt: skip
        grid = cs.density_grid(np.linspace(-3, 3, 7), np.linspace(3, -3, 5), z, a, b)
        gx, gy = np.meshgrid(np.linspace(-3, 3, 7), np.linspace(3, -3, 5))
        ref = np.exp(cs.log_prob(np.stack([gx, gy], -1).reshape(-1, 2), z, a, b))
        np.testing.assert_allclose(grid.reshape(-1), ref, rtol=1e-9, atol=1e-14)


def test_conditional_samples_match_the_conditional_density():
    """x_0 drawn from the source, z fixed: x_t = alpha_t z + beta_t x_0 has the moments of the
    mixture p_t(x | z) and is near samples of it drawn through the oracle's components."""
    src = _source("cosine")
    cs = ConditionalSource(src)
    z = np.array([-0.5, 1.5])
    rng = np.random.default_rng(0)
    for t in (0.2, 0.5, 0.8):
        a, b, _, _ = _values("cosine", t)
        xs = cs.sample(6000, z, a, b, rng)
        mean = a * z + b * (cs.rho @ cs.nu)
        second = (cs.rho[:, None] * ((a * z + b * cs.nu) ** 2 + b * b * cs.g2[:, None])).sum(0)
        np.testing.assert_allclose(xs.mean(0), mean, atol=0.05)
        np.testing.assert_allclose((xs**2).mean(0), second, rtol=0.06, atol=0.05)
        # the density integrates to 1 and its mean on a fine grid is the sample mean
        g = np.linspace(-6, 6, 241)
        dens = cs.density_grid(g, g, z, a, b)
        cell = (g[1] - g[0]) ** 2
        assert abs(dens.sum() * cell - 1) < 1e-3
        gx, gy = np.meshgrid(g, g)
        np.testing.assert_allclose([(dens * gx).sum() * cell, (dens * gy).sum() * cell],
                                   xs.mean(0), atol=0.06)  # fmt: skip
        # against the oracle's own draws of the pair path (the source -> point-z bridge)
        oracle = ExactBridge(src, ExactMarginal(z[None], widths=0.0, schedule="cosine"))
        ref = oracle.sample_path(6000, t, seed=5).numpy()
        other = cs.sample(6000, z, a, b, np.random.default_rng(9))
        ed = energy_distance(torch.tensor(xs), torch.tensor(ref))
        floor = energy_distance(torch.tensor(other), torch.tensor(ref))
        assert ed < 3 * floor + 5e-3, (t, ed, floor)
        # a wrong path (the Gaussian N(alpha_t z, beta_t^2 I)) is far away
        wrong = a * z + b * rng.standard_normal((6000, 2))
        assert energy_distance(torch.tensor(wrong), torch.tensor(ref)) > 10 * (ed + 1e-3)


@pytest.mark.parametrize("schedule", ["condot", "vp"])
def test_equal_widths_shortcut_matches_the_oracle(schedule):
    """Presets share one width per mixture: s_ij^2 is one number (the in-place fast path)."""
    src = ExactMarginal([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.0]], [0.2, 0.5, 0.3], 0.3,
                        schedule=schedule)  # fmt: skip
    tgt = ExactMarginal(np.random.default_rng(0).normal(size=(50, 2)), None, 0.1,
                        labels=np.arange(50) % 2, schedule=schedule)  # fmt: skip
    br = ExactBridge(src, tgt)
    lens = LensBridge(br)
    assert lens._h2u is not None and lens._g2u is not None
    for x, t, y in (([0.4, -1.0], 0.2, None), ([1.5, 0.3], 0.8, None), ([0.0, 0.5], 0.5, 1)):
        p = lens.at(x, t, y=y, top=5)
        f = br.evaluate(torch.tensor([x], dtype=torch.float64), t, y=y)
        np.testing.assert_allclose(p.velocity, f.velocity[0].numpy(), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(p.score, f.score[0].numpy(), rtol=1e-7, atol=1e-9)
        post = br.posterior(torch.tensor([x], dtype=torch.float64), t, y=y)[0].numpy()
        np.testing.assert_allclose(p.weights.reshape(post.shape), post, atol=1e-10)
        np.testing.assert_allclose(p.weights[p.index] @ p.velocities,
                                   (post.reshape(-1)[p.index]) @ p.velocities)  # fmt: skip
        a, b, da, db = _values(schedule, t)
        i, j = p.pairs[0]
        nu, mu = src.means[i].numpy(), tgt.means[j].numpy()
        s2 = a * a * 0.01 + b * b * 0.09
        m = a * mu + b * nu
        u = da * (mu + a * 0.01 / s2 * (np.array(x) - m)) + db * (
            nu + b * 0.09 / s2 * (np.array(x) - m)
        )
        np.testing.assert_allclose(p.velocities[0], u, rtol=1e-7, atol=1e-9)
