"""The exact marginal oracle against closed forms, an independent dense computation, the
continuity equation and autograd."""

import math

import pytest
import torch

from flowscope.core.exact import ExactMarginal

MEANS = torch.tensor([[-2.0, 0.5], [1.5, 1.0], [0.0, -1.8], [2.2, -1.0]], dtype=torch.float64)
WEIGHTS = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
WIDTHS = torch.tensor([0.3, 0.15, 0.4, 0.05], dtype=torch.float64)
LABELS = torch.tensor([0, 1, 1, 0])


def reference_schedule(name, t):
    """alpha_t, beta_t, d_alpha_t and beta_t d_beta_t written out by hand (MATH.md's table),
    independently of flowscope.core.schedules; the product is finite at t = 1 for every one."""
    t = torch.as_tensor(t, dtype=torch.float64)
    one = torch.ones_like(t)
    if name == "condot":
        return t, 1 - t, one, -(1 - t)
    if name == "cosine":
        h = math.pi / 2
        s, c = torch.sin(h * t), torch.cos(h * t)
        return s, c, h * c, -h * s * c
    if name == "vp":  # beta = sqrt(1 - t^2): beta d_beta = -t
        return t, torch.sqrt(1 - t * t), one, -t
    if name == "sqrt":  # beta = sqrt(1 - t): beta d_beta = -1/2
        return t, torch.sqrt(1 - t), one, -0.5 * one
    raise KeyError(name)


def dense_reference(x, t, means, weights, widths, schedule="condot"):
    """MATH.md's formulas with full (N, K) matrices and torch.softmax (no streaming)."""
    v = reference_schedule(schedule, torch.full((x.shape[0],), float(t), dtype=x.dtype))
    a, b, da, bdb = (q[:, None] for q in v)
    s2 = a**2 * widths[None] ** 2 + b**2  # (N, K)
    diff = x[:, None, :] - a[:, :, None] * means[None]
    logit = weights.log()[None] - 0.5 * diff.pow(2).sum(-1) / s2 - torch.log(s2)  # D = 2
    w = torch.softmax(logit, dim=1)
    logp = torch.logsumexp(logit, 1) - math.log(2 * math.pi)
    ds_over_s = (a * da * widths[None] ** 2 + bdb) / s2
    comp_u = da[:, :, None] * means[None] + ds_over_s[:, :, None] * diff
    u = (w[:, :, None] * comp_u).sum(1)
    score = (w[:, :, None] * (-diff) / s2[:, :, None]).sum(1)
    return logp, u, score


@pytest.fixture
def em():
    return ExactMarginal(MEANS, WEIGHTS, WIDTHS, LABELS)


@pytest.mark.parametrize("schedule", ["condot", "cosine", "vp", "sqrt"])
@pytest.mark.parametrize("t", [0.0, 0.3, 0.8, 0.9995, 1.0])
def test_matches_dense_reference(schedule, t):
    em = ExactMarginal(MEANS, WEIGHTS, WIDTHS, schedule=schedule)
    x = torch.randn(200, 2, dtype=torch.float64) * 2
    f = em.evaluate(x, t)
    logp, u, s = dense_reference(x, t, MEANS, WEIGHTS / WEIGHTS.sum(), WIDTHS, schedule)
    torch.testing.assert_close(f.log_prob, logp)
    torch.testing.assert_close(f.velocity, u)
    torch.testing.assert_close(f.score, s)


def test_t0_is_standard_normal(em):
    x = torch.randn(100, 2, dtype=torch.float64)
    f = em.evaluate(x, 0.0)
    torch.testing.assert_close(f.log_prob, -0.5 * x.pow(2).sum(1) - math.log(2 * math.pi))
    torch.testing.assert_close(f.score, -x)
    # CondOT at t = 0: u_0(x) = E[z] - x
    mean_z = (WEIGHTS[:, None] * MEANS).sum(0) / WEIGHTS.sum()
    torch.testing.assert_close(f.velocity, mean_z[None] - x)


def test_single_gaussian_closed_form():
    mu, h = torch.tensor([[1.0, -0.5]], dtype=torch.float64), 0.4
    em = ExactMarginal(mu, widths=[h])
    x = torch.randn(50, 2, dtype=torch.float64)
    for t in (0.1, 0.5, 0.9):
        var = t**2 * h**2 + (1 - t) ** 2
        logp = -0.5 * (x - t * mu).pow(2).sum(1) / var - math.log(2 * math.pi * var)
        torch.testing.assert_close(em.log_prob(x, t), logp)
        torch.testing.assert_close(em.score(x, t), -(x - t * mu) / var)
        c = (t * h**2 - (1 - t)) / var
        torch.testing.assert_close(em.velocity(x, t), mu + c * (x - t * mu))


def test_score_is_autograd_gradient_of_log_prob(em):
    x = (torch.randn(64, 2, dtype=torch.float64) * 2).requires_grad_(True)
    for t in (0.2, 0.6, 0.95):
        logp = em.log_prob(x, t)
        (grad,) = torch.autograd.grad(logp.sum(), x)
        torch.testing.assert_close(em.score(x.detach(), t), grad)


@pytest.mark.parametrize("schedule", ["condot", "cosine"])
def test_continuity_equation(schedule):
    """d p_t / dt + div(p_t u_t) = 0, checked with central finite differences."""
    em = ExactMarginal(MEANS, WEIGHTS, WIDTHS, schedule=schedule)
    x = torch.randn(100, 2, dtype=torch.float64) * 1.5
    h = 1e-4
    for t in (0.25, 0.5, 0.75):
        dp_dt = (em.log_prob(x, t + h).exp() - em.log_prob(x, t - h).exp()) / (2 * h)
        div = torch.zeros(x.shape[0], dtype=torch.float64)
        for d in range(2):
            e = torch.zeros(2, dtype=torch.float64)
            e[d] = h
            fp, fm = em.evaluate(x + e, t), em.evaluate(x - e, t)
            flux_p = fp.log_prob.exp() * fp.velocity[:, d]
            flux_m = fm.log_prob.exp() * fm.velocity[:, d]
            div += (flux_p - flux_m) / (2 * h)
        scale = dp_dt.abs().max()
        assert (dp_dt + div).abs().max() < 1e-5 * max(1.0, float(scale)) + 1e-7


def test_streaming_blocks_give_the_same_answer(em):
    x = torch.randn(333, 2, dtype=torch.float64)
    small = ExactMarginal(MEANS, WEIGHTS, WIDTHS, LABELS, max_block=7)
    for y in (None, 1):
        a, b = em.evaluate(x, 0.7, y), small.evaluate(x, 0.7, y)
        for q in ("log_prob", "velocity", "score"):
            torch.testing.assert_close(getattr(a, q), getattr(b, q))


def test_class_conditional_equals_sub_mixture(em):
    x = torch.randn(80, 2, dtype=torch.float64) * 2
    keep = LABELS == 1
    sub = ExactMarginal(MEANS[keep], WEIGHTS[keep], WIDTHS[keep])
    for t in (0.3, 0.9):
        a, b = em.evaluate(x, t, y=1), sub.evaluate(x, t)
        torch.testing.assert_close(a.velocity, b.velocity)
        torch.testing.assert_close(a.score, b.score)
        torch.testing.assert_close(a.log_prob, b.log_prob)
    # per-row labels, -1 meaning unconditional
    y = torch.tensor([1, -1] * 40)
    mixed = em.velocity(x, 0.5, y)
    torch.testing.assert_close(mixed[0::2], em.velocity(x[0::2], 0.5, 1))
    torch.testing.assert_close(mixed[1::2], em.velocity(x[1::2], 0.5))


def test_density_integrates_to_one(em):
    g = torch.linspace(-6, 6, 241, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    cell = (g[1] - g[0]) ** 2
    for t in (0.0, 0.5, 0.9):
        assert float(em.log_prob(pts, t).exp().sum() * cell) == pytest.approx(1.0, abs=2e-3)
        assert float(em.log_prob(pts, t, y=0).exp().sum() * cell) == pytest.approx(1.0, abs=2e-3)


def test_sampling_moments(em):
    x, lab = em.sample(40000, seed=1, return_labels=True)
    w = WEIGHTS / WEIGHTS.sum()
    mean = (w[:, None] * MEANS).sum(0)
    torch.testing.assert_close(x.double().mean(0), mean, atol=0.03, rtol=0)
    frac0 = float((lab == 0).double().mean())
    assert frac0 == pytest.approx(float(w[LABELS == 0].sum()), abs=0.01)
    only1 = em.sample(1000, seed=2, y=1)
    # class-1 components are the 2nd and 3rd means
    d = torch.cdist(only1.double(), MEANS).argmin(1)
    assert set(d.tolist()) <= {1, 2}
    torch.testing.assert_close(em.sample(10, seed=5), em.sample(10, seed=5))


def test_point_masses_are_finite_at_t1():
    em = ExactMarginal(MEANS)  # widths 0
    f = em.evaluate(torch.randn(20, 2, dtype=torch.float64), 1.0)
    assert torch.isfinite(f.velocity).all()


def test_bad_input_messages(em):
    with pytest.raises(ValueError, match="NaN"):
        ExactMarginal([[0.0, float("nan")]])
    with pytest.raises(ValueError, match="non-empty"):
        ExactMarginal(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="unknown class 7"):
        em.velocity(torch.zeros(3, 2), 0.5, y=7)
    with pytest.raises(ValueError, match="no classes"):
        ExactMarginal(MEANS).velocity(torch.zeros(3, 2), 0.5, y=0)


def test_shared_time_fast_path_equals_per_row_path(em):
    """One t for all rows takes the matmul fast path; per-row times the general one."""
    x = torch.randn(300, 2, dtype=torch.float64) * 2
    shared = torch.full((300,), 0.6, dtype=torch.float64)
    mixed = shared.clone()
    mixed[0] = 0.3  # forces the per-row path for the whole call
    for y in (None, 0):
        a, b = em.evaluate(x, shared, y), em.evaluate(x, mixed, y)
        for q in ("log_prob", "velocity", "score"):
            torch.testing.assert_close(getattr(a, q)[1:], getattr(b, q)[1:])
    u, s = em.velocity_and_score(x, 0.6)
    torch.testing.assert_close(u, em.velocity(x, 0.6))
    torch.testing.assert_close(s, em.score(x, 0.6))


@pytest.mark.parametrize("schedule", ["condot", "cosine", "vp", "sqrt", "poly2"])
def test_t1_is_the_data_density_for_every_schedule(schedule):
    """At t = 1, p_1 = p_data and u_1(x) = sum_i w_i [mu_i + (d_s_i / s_i)(x - mu_i)] with
    s_i = h_i: no schedule may fall back to t = 0.999 (issue: vp gave log p 2.482, not 2.642)."""
    em = ExactMarginal([[0.0, 0.0]], widths=[0.1], schedule=schedule)
    x = torch.tensor([[0.05, 0.0]], dtype=torch.float64)
    f = em.evaluate(x, 1.0)
    exact_logp = -0.5 * 0.05**2 / 0.01 - math.log(2 * math.pi * 0.01)
    assert f.log_prob.item() == pytest.approx(exact_logp, abs=1e-12)
    torch.testing.assert_close(f.score, torch.tensor([[-5.0, 0.0]], dtype=torch.float64))
    # u_1 = d_alpha_1 mu + (alpha d_alpha h^2 + beta d_beta) / h^2 (x - mu), by hand per schedule
    _, _, da, bdb = reference_schedule(schedule, 1.0) if schedule != "poly2" else (1, 0, 2.0, 0.0)
    u1 = float(da) * 0.0 + (float(da) * 0.01 + float(bdb)) / 0.01 * 0.05
    assert f.velocity[0, 0].item() == pytest.approx(u1, rel=1e-12)
    # per-row t takes the other code path and must agree
    g = em.evaluate(x.repeat(2, 1), torch.tensor([1.0, 0.5], dtype=torch.float64))
    assert g.log_prob[0].item() == pytest.approx(exact_logp, abs=1e-12)


def test_vp_log_prob_at_t1_on_two_moons_equals_the_data_density():
    from flowscope.core.data import load_target

    target = load_target("two_moons")
    em = target.exact.with_schedule("vp")
    x = em.sample(500, seed=3, dtype=torch.float64)
    ref = target.exact.log_prob(x, 1.0)  # condot at t = 1 is p_data itself
    torch.testing.assert_close(em.log_prob(x, 1.0), ref, rtol=0, atol=1e-9)
