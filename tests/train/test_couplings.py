"""Couplings (independent, minibatch OT, reflow), a mixture source, and straightness metrics.

The figures are printed (pytest -s) so a run reports them: OT vs independent energy distance at
2 Euler steps with OT's cost per step, and reflow's kinetic - transport gap before and after."""

import itertools

import pytest
import torch

from flowscope.core.couplings import PairBank, ot_assignment, ot_pair, reflow_pairs
from flowscope.core.data import load_target
from flowscope.core.flow_model import load
from flowscope.core.metrics import (
    energy_distance,
    kinetic_energy,
    quality_vs_steps,
    straightness,
    transport_cost,
)
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig, Trainer

MC = ModelConfig(dim=2, width=64, depth=3)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _train(target, coupling="independent", steps=600, seed=0, **kw):
    cfg = TrainConfig(steps=steps, batch_size=256, lr=3e-3, seed=seed, coupling=coupling)
    tr = Trainer(target, MC, cfg, **kw)
    tr.run()
    return tr


@pytest.fixture(scope="module")
def eight():
    return load_target("eight_gaussians")


@pytest.fixture(scope="module")
def independent_model(eight):
    torch.set_num_threads(1)
    return _train(eight).model()


def test_ot_assignment_is_the_brute_force_optimum():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        x0, x1 = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
        best = min(
            itertools.permutations(range(6)),
            key=lambda p: float((x0[list(p)] - x1).square().sum()),
        )
        perm = ot_assignment(x0, x1)
        torch.testing.assert_close(
            (x0[perm] - x1).square().sum(), (x0[list(best)] - x1).square().sum()
        )
        assert sorted(perm.tolist()) == list(range(6))
        torch.testing.assert_close(ot_pair(x0, x1), x0[perm])


def test_ot_beats_independent_at_two_euler_steps(eight, independent_model):
    tr = _train(eight, "ot")
    ot_model = tr.model()
    q_ind = quality_vs_steps(independent_model, eight.exact, steps=(2, 64), n=1500)
    q_ot = quality_vs_steps(ot_model, eight.exact, steps=(2, 64), n=1500)
    ms = tr.summary()["coupling_ms_per_step"]
    print(
        f"\n2 Euler steps: energy distance independent {q_ind[2]:.4f}, OT {q_ot[2]:.4f} "
        f"(64 steps: {q_ind[64]:.4f} / {q_ot[64]:.4f}); OT assignment {ms:.1f} ms per step "
        f"(batch 256)"
    )
    assert tr.summary()["coupling"] == "ot" and ms > 0 and tr.coupling_batches == 600
    assert q_ot[2] < q_ind[2] / 3
    # both learned the target: with many steps they are close to each other
    assert q_ot[64] < 0.06 and q_ind[64] < 0.06
    s_ind, s_ot = straightness(independent_model, 1500, 50), straightness(ot_model, 1500, 50)
    assert s_ot["gap"] < s_ind["gap"] / 5


def test_reflow_lowers_the_straightness_gap(eight, independent_model):
    before = straightness(independent_model, 1500, 50, seed=3)
    bank = reflow_pairs(independent_model, 4000, steps=20, seed=1)
    assert len(bank) == 4000
    tr = _train(eight, steps=600, seed=1, pairs=bank)
    assert tr.summary()["coupling"] == "reflow"
    after = straightness(tr.model(), 1500, 50, seed=3)
    print(
        f"\nreflow: kinetic - transport gap {before['gap']:.4f} -> {after['gap']:.4f} "
        f"(kinetic {before['kinetic_energy']:.3f} -> {after['kinetic_energy']:.3f})"
    )
    assert after["gap"] < before["gap"] / 5
    # the reflowed model still transports noise to (roughly) the target
    q = quality_vs_steps(tr.model(), eight.exact, steps=(2,), n=1500)
    assert q[2] < 0.1


def test_straightness_metrics_agree_with_a_known_field():
    """u = c: straight, E = C = |c|^2; u = 2 t c: C = |c|^2, E = 4/3 |c|^2."""

    class Field:
        def __init__(self, f):
            self.f = f

        def velocity(self, x, t):
            return self.f(x, t)

    c = torch.tensor([1.0, 2.0])
    x0 = torch.zeros(10, 2)
    s = straightness(Field(lambda x, t: c.expand_as(x)), steps=10, x0=x0)
    assert s["transport_cost"] == pytest.approx(5.0) and s["kinetic_energy"] == pytest.approx(5.0)
    s = straightness(Field(lambda x, t: 2 * t[:, None] * c), steps=400, x0=x0)
    assert s["transport_cost"] == pytest.approx(5.0, rel=1e-2)
    assert s["kinetic_energy"] == pytest.approx(5.0 * 4 / 3, rel=1e-2)
    assert s["gap"] > 0


def test_transport_and_kinetic_wrappers(independent_model):
    s = straightness(independent_model, 500, 20, seed=2)
    assert transport_cost(independent_model, 500, 20, seed=2) == pytest.approx(s["transport_cost"])
    assert kinetic_energy(independent_model, 500, 20, seed=2) == pytest.approx(s["kinetic_energy"])
    assert s["kinetic_energy"] >= s["transport_cost"]


def test_a_mixture_source_bridge_trains_samples_and_saves(eight, tmp_path):
    """eight gaussians -> two moons (the issue's example): OT beats independent at 2 steps."""
    target = load_target("two_moons").exact
    independent = _train(target, steps=600, source=eight.exact).model()
    tr = _train(target, "ot", steps=600, source=eight.exact)
    model = tr.model()
    assert model.source is eight.exact
    # x_0 comes from the source: the first sampler state is the eight gaussians
    x0 = model.sample_trajectories(1500, steps=4, solver="euler", seed=0).xs[0]
    ref_src = eight.exact.sample(1500, seed=9)
    assert energy_distance(x0, ref_src) < 0.02
    x1 = model.sample(1500, steps=2, solver="euler", seed=0)
    ed = energy_distance(x1, target.sample(1500, seed=8))
    x1_ind = independent.sample(1500, steps=2, solver="euler", seed=0)
    ed_ind = energy_distance(x1_ind, target.sample(1500, seed=8))
    ms = tr.summary()["coupling_ms_per_step"]
    print(
        f"\neight gaussians -> two moons, energy distance at 2 Euler steps: independent "
        f"{ed_ind:.4f}, OT {ed:.4f} (OT assignment {ms:.1f} ms per step)"
    )
    assert ed < 0.05 and ed < ed_ind / 3
    assert energy_distance(x1, ref_src) > 10 * ed
    for call in (
        lambda: model.score(x1[:4], 0.5),
        lambda: model.velocity_and_score(x1[:4], 0.5),
        lambda: model.sample(10, sigma=0.5),
    ):
        with pytest.raises(ValueError, match="N\\(0, I\\) source"):
            call()
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "source.safetensors").is_file()
    back = load(tmp_path / "m")
    torch.testing.assert_close(back.source.means, eight.exact.means)
    torch.testing.assert_close(back.sample(50, steps=4, seed=1), model.sample(50, steps=4, seed=1))
    # the source comes with snapshots too (the GUI's models)
    assert tr.publish().to_model().source is eight.exact
    # a plain model saved over it drops the stale source file
    _train(target, steps=5).model().save(tmp_path / "m")
    assert not (tmp_path / "m" / "source.safetensors").exists()
    assert load(tmp_path / "m").source is None


def test_couplings_refuse_score_objectives_and_bad_names(eight):
    with pytest.raises(ValueError, match="velocity only"):
        Trainer(eight, ModelConfig(dim=2, parameterization="score"), TrainConfig(coupling="ot"))
    with pytest.raises(ValueError, match="velocity only"):
        Trainer(eight, ModelConfig(dim=2, parameterization="noise"), source=eight.exact)
    with pytest.raises(ValueError, match="unknown coupling"):
        TrainConfig(coupling="sinkhorn")
    with pytest.raises(ValueError, match="same shape|one shape"):
        PairBank(torch.zeros(3, 2), torch.zeros(4, 2))


def test_pair_bank_moves_into_the_network_coordinates():
    from flowscope.core.flow_model import Normalization

    x0 = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x1 = torch.tensor([[5.0, 6.0], [7.0, 10.0]])
    bank = PairBank(x0, x1).to("cpu", Normalization((1.0, 2.0), 2.0))
    torch.testing.assert_close(bank.x0, torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    torch.testing.assert_close(bank.x1, torch.tensor([[2.0, 2.0], [3.0, 4.0]]))
    a0, a1, lab = bank(64, torch.Generator().manual_seed(0))
    assert lab is None and a0.shape == (64, 2)
    # rows stay paired: x1 - x0 is (2, 2) or (2, 3) for every draw
    d = a1 - a0
    assert bool(
        ((d == torch.tensor([2.0, 2.0])).all(1) | (d == torch.tensor([2.0, 3.0])).all(1)).all()
    )


def test_reflow_pairs_are_data_coordinates_of_the_models_ode(independent_model):
    bank = reflow_pairs(independent_model, 200, steps=10, seed=4)
    x1 = independent_model.sample(
        200, steps=10, solver="heun", x0=independent_model.source_sample(200, 4)
    )
    torch.testing.assert_close(bank.x1, x1)
