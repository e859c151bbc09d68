"""ODE/SDE samplers against analytic fields, and classifier-free guidance identities."""

import math

import pytest
import torch

from flowscope.core import samplers
from flowscope.core.exact import ExactMarginal

A = torch.tensor([[-0.5, -2.0], [2.0, -0.5]], dtype=torch.float64)


class LinearField:
    """u_t(x) = A x + t b (time-dependent); exact flow known via the matrix exponential."""

    b = torch.tensor([1.0, -0.5], dtype=torch.float64)

    def velocity(self, x, t, y=None):
        return x @ A.T + t[:, None] * self.b

    def score(self, x, t, y=None):
        return -x


def exact_solution(x0):
    """x(1) = e^A x0 + int_0^1 e^{A(1-s)} s b ds, and the integral is A^-2 (e^A - I) - A^-1."""
    ea = torch.linalg.matrix_exp(A)
    ai = torch.linalg.inv(A)
    integ = (ai @ ai @ (ea - torch.eye(2, dtype=A.dtype)) - ai) @ LinearField.b
    return x0 @ ea.T + integ


@pytest.mark.parametrize("solver,order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_ode_convergence_order(solver, order):
    x0 = torch.randn(50, 2, dtype=torch.float64)
    # reference with a very fine RK4 run (independent of the quadrature above)
    ref = samplers.sample_ode(LinearField(), x0, 2000, "rk4").x
    errs = []
    for n in (20, 40, 80):
        x1 = samplers.sample_ode(LinearField(), x0, n, solver).x
        errs.append(float((x1 - ref).abs().max()))
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert all(abs(r - order) < 0.35 for r in rates), (errs, rates)


def test_rk4_matches_matrix_exponential():
    x0 = torch.randn(20, 2, dtype=torch.float64)
    x1 = samplers.sample_ode(LinearField(), x0, 400, "rk4").x
    torch.testing.assert_close(x1, exact_solution(x0), atol=2e-4, rtol=0)


def test_sde_with_sigma_zero_equals_euler_ode():
    x0 = torch.randn(100, 2, dtype=torch.float64)
    ode = samplers.sample_ode(LinearField(), x0, 30, "euler").x
    sde = samplers.sample_sde(LinearField(), x0, 30, sigma=0.0, seed=3).x
    torch.testing.assert_close(sde, ode)
    via = samplers.sample(LinearField(), x0, 30, solver="euler", sigma=0.0).x
    torch.testing.assert_close(via, ode)


def test_trajectory_frames_and_chunking():
    x0 = torch.randn(101, 2, dtype=torch.float64)
    full = samplers.sample_ode(LinearField(), x0, 10, "heun", return_trajectory=True)
    assert full.xs.shape == (11, 101, 2)
    torch.testing.assert_close(full.t, torch.linspace(0, 1, 11, dtype=torch.float64))
    torch.testing.assert_close(full.xs[0], x0)
    torch.testing.assert_close(full.xs[-1], full.x)
    chunked = samplers.sample_ode(
        LinearField(), x0, 10, "heun", return_trajectory=True, chunk_size=17
    )
    torch.testing.assert_close(chunked.xs, full.xs)
    sparse = samplers.sample_ode(LinearField(), x0, 10, return_trajectory=True, save_every=4)
    torch.testing.assert_close(sparse.t, torch.tensor([0, 0.4, 0.8, 1.0], dtype=torch.float64))
    a = samplers.sample_sde(LinearField(), x0, 10, sigma=0.5, seed=7).x
    b = samplers.sample_sde(LinearField(), x0, 10, sigma=0.5, seed=7).x
    torch.testing.assert_close(a, b)


def test_sigma_schedules():
    t = torch.tensor([0.0, 0.75, 1.0])
    torch.testing.assert_close(
        samplers.sigma_schedule_fn(2.0, "constant")(t), torch.full((3,), 2.0)
    )
    torch.testing.assert_close(
        samplers.sigma_schedule_fn(2.0, "linear")(t), torch.tensor([2.0, 0.5, 0.0])
    )
    torch.testing.assert_close(
        samplers.sigma_schedule_fn(2.0, "sqrt")(t), torch.tensor([2.0, 1.0, 0.0])
    )
    with pytest.raises(ValueError, match="sigma"):
        samplers.sigma_schedule_fn(-1.0)


def test_bad_arguments():
    x0 = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="unknown solver"):
        samplers.sample_ode(LinearField(), x0, 10, "leapfrog")
    with pytest.raises(ValueError, match="steps"):
        samplers.sample_ode(LinearField(), x0, 0)


LABELLED = ExactMarginal(
    torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]]), widths=0.2, labels=[0, 1, 1]
)


def test_guidance_identities_with_exact_oracle():
    x = torch.randn(64, 2, dtype=torch.float64)
    t = torch.full((64,), 0.6, dtype=torch.float64)
    cond = LABELLED.velocity(x, t, 1)
    uncond = LABELLED.velocity(x, t)
    torch.testing.assert_close(samplers.GuidedField(LABELLED, 1, 1.0).velocity(x, t), cond)
    torch.testing.assert_close(samplers.GuidedField(LABELLED, 1, 0.0).velocity(x, t), uncond)
    torch.testing.assert_close(
        samplers.GuidedField(LABELLED, 1, 3.0).velocity(x, t), -2.0 * uncond + 3.0 * cond
    )
    torch.testing.assert_close(
        samplers.GuidedField(LABELLED, 1, 2.0).score(x, t),
        2 * LABELLED.score(x, t, 1) - LABELLED.score(x, t),
    )


def test_conditional_sampling_lands_in_class_region():
    x0 = torch.randn(1000, 2, dtype=torch.float64)
    for y, region in ((0, lambda p: p[:, 0] < -1), (1, lambda p: (p[:, 0] > 1) | (p[:, 1] > 1))):
        x1 = samplers.sample_ode(LABELLED, x0, 60, "heun", y=y, w=1.0).x
        assert float(region(x1).double().mean()) > 0.98


def test_exact_field_transports_noise_to_target_and_dropping_the_score_term_does_not():
    """The exact marginal is the referee: ODE and (correct) SDE samples match the target up to the
    target-vs-target sampling floor; the SDE without the sigma^2/2 score term does not."""
    from flowscope.core.metrics import energy_distance

    ang = torch.arange(8) * 2 * math.pi / 8
    em = ExactMarginal(torch.stack([2.5 * ang.cos(), 2.5 * ang.sin()], 1), widths=0.25)
    n = 2000
    ref = em.sample(n, seed=1).double()
    floor = energy_distance(ref, em.sample(n, seed=2).double())
    x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ode = samplers.sample_ode(em, x0, 50, "heun").x
    sde = samplers.sample_sde(em, x0, 100, sigma=1.0, seed=4).x
    bad = samplers.sample_sde(em, x0, 100, sigma=1.0, seed=4, drop_score_term=True).x
    e_ode, e_sde, e_bad = (energy_distance(s, ref) for s in (ode, sde, bad))
    assert e_ode < 3 * floor, (e_ode, floor)
    assert e_sde < 3 * floor, (e_sde, floor)
    assert e_bad > 5 * floor and e_bad > 3 * e_sde, (e_bad, e_sde, floor)


def test_one_guidance_scale_parser_for_the_gui_and_the_cli(capsys):
    """The GUI's grid field and the CLI's --grid-w read lists by the same rules (they used to
    differ: the CLI accepted 50 columns and w = 1e9)."""
    from flowscope.cli import CliError
    from flowscope.cli_images import _parse_ws
    from flowscope.core.samplers import parse_guidance_scales
    from flowscope.state import parse_ws

    assert parse_guidance_scales("0, 1;3 ,5") == (0.0, 1.0, 3.0, 5.0) == parse_ws("0, 1;3 ,5")
    assert _parse_ws("0, 1;3 ,5") == [0.0, 1.0, 3.0, 5.0]
    for bad, why in [("a,b", "numbers"), ("", "at least one"), ("1e9", "lie in"),
                     ("nan", "lie in"), (",".join(["1"] * 9), "at most 8")]:  # fmt: skip
        with pytest.raises(ValueError, match=why):
            parse_guidance_scales(bad)
        with pytest.raises(CliError, match=why):
            _parse_ws(bad)


class _DriftOnly:
    """A velocity-only field: u(x, t | y) = y v (0 without a label). No score."""

    v = torch.tensor([1.0, -2.0], dtype=torch.float64)

    def velocity(self, x, t, y=None):
        scale = 0.0 if y is None else float(y)
        return torch.zeros_like(x) + scale * self.v


def test_every_field_satisfies_the_field_protocol():
    """The samplers are typed with core.fields.Field (velocity) and ScoreField (+ score): the
    oracle, a network, the CFG wrapper and a user's velocity-only field all fit structurally."""
    from flowscope.core.fields import Field, ScoreField
    from flowscope.core.flow_model import FlowModel
    from flowscope.core.models import ModelConfig, build_model

    cfg = ModelConfig(width=16, depth=1)
    scored = [FlowModel(build_model(cfg), cfg), samplers.GuidedField(LinearField(), 1, 2.0)]
    scored += [LinearField(), LABELLED]
    for f in scored:
        assert isinstance(f, ScoreField) and isinstance(f, Field), f
    assert isinstance(_DriftOnly(), Field) and not isinstance(_DriftOnly(), ScoreField)
    assert not isinstance(object(), Field)


def test_the_ode_integrates_a_velocity_only_field_with_guidance():
    """Guidance mixes (1 - w) u(x | empty) + w u(x | y) = w y v for _DriftOnly: constant in x and
    t, so every solver lands exactly on x0 + w y v; the SDE needs a score and says so."""
    x0 = torch.randn(10, 2, dtype=torch.float64)
    for solver in samplers.SOLVERS:
        x1 = samplers.sample_ode(_DriftOnly(), x0, 7, solver, y=2, w=1.5).x
        torch.testing.assert_close(x1, x0 + 1.5 * 2 * _DriftOnly.v)
    with pytest.raises(AttributeError, match="score"):
        samplers.sample_sde(_DriftOnly(), x0, 3, sigma=0.5, seed=0)  # type: ignore[arg-type]
