"""flowscope.diagnostics against closed forms: the exact field scores zero everywhere, an offset
field scores |c|^2, training lowers the error, and the two error estimates agree."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from oracle_models import oracle_model

import flowscope
from flowscope import diagnostics as D
from flowscope.core.checkpoint import CheckpointError
from flowscope.core.diagnostics import grid
from flowscope.core.exact import ExactMarginal
from flowscope.core.metrics import loss_floor_by_t
from flowscope.core.models import ModelConfig
from flowscope.core.reference import PathReference
from flowscope.core.target_file import TARGET_FILE, read_target, save_target
from flowscope.train.trainer import TrainConfig, Trainer

BOX = (-4.0, 4.0, -4.0, 4.0)


def _ring(k: int = 6, width: float = 0.15, labels: bool = False) -> ExactMarginal:
    ang = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    means = 2.0 * torch.stack([ang.cos(), ang.sin()], 1)
    lab = (torch.arange(k) % 2) if labels else None
    return ExactMarginal(means, widths=width, labels=lab)


class Offset:
    """The exact field plus a constant c: field error |c|^2 everywhere."""

    def __init__(self, exact, c):
        self.exact, self.c = exact, torch.tensor(c, dtype=torch.float64)

    def velocity(self, x, t, y=None):
        return self.exact.velocity(x, t, y) + self.c.to(x.dtype)


@pytest.fixture(scope="module")
def ring():
    return _ring()


@pytest.fixture(scope="module")
def trained(ring):
    """A small velocity model at 0, 40 and 400 steps (same seed)."""
    torch.manual_seed(0)
    tc = TrainConfig(steps=400, batch_size=256, lr=3e-3, device="cpu", seed=0)
    tr = Trainer(ring, ModelConfig(dim=2, width=64, depth=2), tc)
    models = {0: tr.model()}
    tr.step(40)
    models[40] = tr.model()
    tr.step(360)
    models[400] = tr.model()
    return models


# ----------------------------------------------------------------------------- error by t


def test_exact_field_has_zero_error_and_zero_excess_loss(ring):
    r = D.error_by_t(ring, ring, bins=5, n=500)
    assert r.t.tolist() == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    assert r.field_mse.abs().max() == 0.0
    assert r.objective == "velocity" and r.excess_loss.abs().max() == 0.0
    assert (r.loss > r.loss_floor * 0.999).all() and (r.loss_floor > 0).all()


def test_offset_field_error_is_c_squared_in_every_bin(ring):
    c = (0.3, -0.4)
    r = D.error_by_t(Offset(ring, c), ring, bins=6, n=6000)
    assert r.field_mse.tolist() == pytest.approx([0.25] * 6, rel=1e-9)
    # the paired excess loss estimates the same 0.25, within its Monte Carlo error
    assert ((r.excess_loss - 0.25).abs() < 4 * r.excess_loss_se).all()
    # and the floor is metrics.loss_floor_by_t on the same draw (seed + 1)
    floor = loss_floor_by_t(ring, "velocity", bins=6, n=6000, seed=1)
    assert torch.allclose(r.loss_floor, floor, rtol=1e-12, atol=0)


def test_guided_offset_and_class_conditional_reference():
    ex = _ring(labels=True)
    r = D.error_by_t(Offset(ex, (0.0, 0.5)), ex, bins=4, n=400, y=1, w=2.0)
    assert r.field_mse.tolist() == pytest.approx([0.25] * 4, rel=1e-9)
    assert r.excess_loss is None  # no training objective at w != 1
    model = oracle_model(ex, "velocity")
    model.config = ModelConfig(dim=2, width=4, depth=1, num_classes=2)
    guided_model = D.error_by_t(model, ex, bins=2, n=100, y=1, w=3.0)
    assert guided_model.excess_loss is None and guided_model.field_mse.max() > 0.01


@pytest.mark.parametrize("parameterization", ["velocity", "noise", "score"])
def test_perfect_normalized_network_is_exact_against_its_own_path(ring, parameterization):
    model = oracle_model(ring, parameterization, shift=(0.5, -0.25), scale=2.0)
    r = D.error_by_t(model, ring, bins=4, n=800)
    # noise/score networks are converted to a velocity at t >= 0.01 (FlowModel's design)
    assert r.field_mse[1:].max() < 1e-8 and r.field_mse[0] < 1e-3
    assert r.objective == parameterization and r.scale == 2.0
    assert r.excess_loss[1:].abs().max() < 1e-5  # float32 network outputs
    # against the data-space path (source N(0, I)) the same network looks badly wrong
    naive = D.error_by_t(model, PathReference(ring), bins=4, n=800)
    assert naive.field_mse[0] > 0.1


def test_score_excess_uses_the_training_weighting(ring):
    model = oracle_model(ring, "score")
    model.metadata["training"] = {"config": {"score_weighting": "none"}}
    r = D.error_by_t(Offset(ring, (0.1, 0.0)), ring, bins=4, n=400)
    assert r.weighting is None  # velocity objective: no weighting
    r = D.error_by_t(model, ring, bins=4, n=2000)
    assert r.weighting == "none"
    floor = loss_floor_by_t(ring, "score", bins=4, n=2000, seed=1, weighting="none")
    assert torch.allclose(r.loss_floor, floor, rtol=1e-12, equal_nan=True)
    beta2 = loss_floor_by_t(ring, "score", bins=4, n=2000, seed=1, weighting="beta2")
    assert not torch.allclose(r.loss_floor, beta2, equal_nan=True)


def test_error_by_t_decreases_over_training(ring, trained):
    mean = [float(D.error_by_t(trained[k], ring, bins=5, n=2000).field_mse.mean()) for k in trained]
    assert mean[0] > mean[1] > mean[2], mean
    assert mean[2] < 0.5 * mean[0]


def test_field_error_and_excess_loss_agree_for_the_velocity_objective(ring, trained):
    r = D.error_by_t(trained[400], ring, bins=4, n=40000)
    tol = 4 * (r.field_mse_se**2 + r.excess_loss_se**2).sqrt()
    assert ((r.field_mse - r.excess_loss).abs() < tol).all(), (r.field_mse, r.excess_loss, tol)
    assert (r.field_mse > 10 * r.field_mse_se).all()  # a real error, not noise around 0


def test_agreement_in_data_units_for_a_normalized_model():
    ex = ExactMarginal([[8.0, 8.0], [12.0, 9.0], [10.0, 13.0]], widths=0.6)
    tc = TrainConfig(steps=150, batch_size=256, device="cpu", normalize="standardize")
    model = Trainer(ex, ModelConfig(dim=2, width=48, depth=2), tc).run().model()
    r = D.error_by_t(model, ex, bins=3, n=30000)
    s2 = r.scale**2
    assert r.scale != 1.0
    tol = 4 * (r.field_mse_se**2 + (s2 * r.excess_loss_se) ** 2).sqrt()
    assert ((r.field_mse - s2 * r.excess_loss).abs() < tol).all(), (r.field_mse, s2 * r.excess_loss)


# ----------------------------------------------------------------------------- maps


def test_error_map_of_offset_is_c_squared_times_p_t(ring):
    m = D.error_map(Offset(ring, (0.3, -0.4)), ring, 0.6, (-6, 6, -6, 6), res=96)
    assert m.values.shape == (96, 96)
    assert m.integral == pytest.approx(0.25, rel=2e-3)  # |c|^2 times the mass of p_t in the box
    raw = D.error_map(Offset(ring, (0.3, -0.4)), ring, 0.6, BOX, res=8, weighted=False)
    assert torch.allclose(raw.values, torch.full((8, 8), 0.25, dtype=torch.float64))
    assert D.error_map(ring, ring, 0.6, BOX, res=16).values.abs().max() == 0.0


def test_error_map_rows_run_from_the_top():
    one = ExactMarginal([[0.0, 2.0]], widths=0.3)
    m = D.error_map(Offset(one, (1.0, 0.0)), one, 1.0, BOX, res=41)
    row, col = divmod(int(m.values.argmax()), 41)
    assert col == 20 and row == 10  # x = 0, y = 2 is a quarter down from the top


@pytest.mark.parametrize("t", [0.0, 0.35, 0.8, 1.0])
def test_continuity_residual_vanishes_for_the_exact_field(ring, t):
    r = D.continuity_residual(ring, ring, t, BOX, res=48)
    assert r.values.shape == (48, 48) and r.relative < 1e-6


def test_continuity_residual_of_offset_is_p_score_dot_c(ring):
    c = torch.tensor([0.3, -0.4], dtype=torch.float64)
    r = D.continuity_residual(Offset(ring, c.tolist()), ring, 0.5, BOX, res=32)
    pts = grid(BOX, 32)
    f = ring.evaluate(pts, 0.5)
    expected = (f.log_prob.exp() * (f.score @ c)).reshape(32, 32)
    assert torch.allclose(r.values, expected, atol=1e-7 * float(expected.abs().max()))
    assert r.relative > 0.05


def test_continuity_residual_of_a_perfect_network_is_small(ring):
    model = oracle_model(ring, "velocity", shift=(0.5, -0.25), scale=2.0)
    assert D.continuity_residual(model, ring, 0.5, BOX, res=32).relative < 1e-4


# ----------------------------------------------------------------------------- samples


def test_decomposition_of_the_exact_field(ring):
    d = D.decompose(ring, ring, steps=2, solver="euler", n=1000)
    assert d.network == d.floor and d.total == d.solver  # the field is the exact field
    assert d.solver > 2 * d.floor  # 2 Euler steps are visibly off, the fine solver is not
    assert d.samples.shape == (1000, 2)


def test_decomposition_of_a_perfect_network_matches_the_exact_field(ring):
    model = oracle_model(ring, "velocity", shift=(0.5, -0.25), scale=2.0)
    d = D.decompose(model, ring, steps=8, solver="heun", n=400)
    assert d.network == pytest.approx(d.floor, rel=1e-3, abs=1e-6)
    assert d.total == pytest.approx(d.solver, rel=1e-3, abs=1e-6)


def test_decomposition_reuses_the_exact_fields_parts(ring):
    """The live panel passes (solver, floor) from the first call: the result must be the same
    numbers a fresh call gives (they do not depend on the network)."""
    first = D.decompose(ring, ring, steps=4, solver="euler", n=300, seed=3)
    again = D.decompose(
        Offset(ring, (0.3, 0.0)), ring, steps=4, solver="euler", n=300, seed=3,
        reference_parts=(first.solver, first.floor),
    )  # fmt: skip
    fresh = D.decompose(Offset(ring, (0.3, 0.0)), ring, steps=4, solver="euler", n=300, seed=3)
    assert (again.solver, again.floor) == (fresh.solver, fresh.floor)
    assert again.total == fresh.total and again.network == fresh.network
    assert again.total > first.total  # the offset field is worse: the check can fail


def test_decomposition_sde_and_validation(ring):
    d = D.decompose(ring, ring, steps=20, sigma=0.5, n=200)
    assert d.solver_name == "euler-maruyama" and d.fine_steps == 500 and d.network == d.floor
    with pytest.raises(ValueError, match="score"):
        D.decompose(Offset(ring, (0.0, 0.0)), ring, sigma=1.0)
    with pytest.raises(ValueError, match="solver"):
        D.decompose(ring, ring, solver="midpoint")
    with pytest.raises(ValueError, match="sigma"):
        D.decompose(ring, ring, sigma=-1)


def test_sde_runs_share_one_brownian_path():
    """Without drift X_1 = X_0 + sigma W_1: the same for every step count on a shared path."""
    from flowscope.core.diagnostics_samples import _coupled_em

    class Still:
        def velocity_and_score(self, x, t, y=None):
            return torch.zeros_like(x), torch.zeros_like(x)

    x0 = torch.randn(50, 2, dtype=torch.float64)
    coarse = _coupled_em(Still(), x0, 10, 40, 0.7, seed=3)
    fine = _coupled_em(Still(), x0, 400, 1, 0.7, seed=3)
    assert torch.allclose(coarse, fine, atol=1e-12)
    assert (coarse - x0).std() == pytest.approx(0.7, rel=0.2)


def test_nll_of_the_exact_field_equals_the_entropy_floor(ring):
    r = D.nll(ring, ring, n=200)
    assert r.t == 1.0 and "t = 1" in r.note
    assert r.model == pytest.approx(r.exact, abs=2e-3)
    model = oracle_model(ring, "velocity", shift=(0.5, -0.25), scale=2.0)
    assert D.nll(model, ring, n=200).model == pytest.approx(r.exact, abs=5e-3)


def test_nll_of_a_point_set_is_taken_just_before_t_1():
    pts = ExactMarginal(torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]]))
    r = D.nll(pts, pts, n=150)
    assert r.t == pytest.approx(0.99) and "zero-width" in r.note
    assert r.model == pytest.approx(r.exact, abs=2e-2)
    moved = ExactMarginal(pts.means + torch.tensor([0.05, 0.0], dtype=torch.float64))
    far = D.nll(moved, pts, n=150)  # the field of points 5 widths (at t = 0.99) away
    assert far.model > r.exact + 5.0


def test_memorization_of_the_exact_field_on_ten_points():
    moons = flowscope.data.load_target("two_moons").exact
    train = moons.sample(10, seed=3, dtype=torch.float64)
    points = ExactMarginal(train)
    samples = D.decompose(points, points, steps=50, n=300).samples
    fresh = moons.sample(300, seed=4, dtype=torch.float64)
    other = moons.sample(300, seed=5, dtype=torch.float64)
    m = D.memorization(samples, train, fresh)
    assert m.share > 0.95 and m.nn_ratio < 0.05 and m.baseline == "fresh"
    g = D.memorization(other, train, fresh)
    assert g.share < 0.1 and 0.6 < g.nn_ratio < 1.6
    assert g.fresh_share < 0.1
    loo = D.memorization(samples, train)
    assert loo.baseline == "leave-one-out" and loo.nn_ratio < 0.05 and math.isnan(loo.fresh_share)
    with pytest.raises(ValueError, match="coincide"):
        D.memorization(samples, torch.zeros(5, 2))


# ----------------------------------------------------------------------------- validation


def test_bad_input_raises_a_clear_error(ring):
    with pytest.raises(ValueError, match="velocity"):
        D.error_by_t(object(), ring)
    with pytest.raises(ValueError, match="bins"):
        D.error_by_t(ring, ring, bins=0)
    with pytest.raises(ValueError, match="n "):
        D.error_by_t(ring, ring, bins=10, n=5)
    with pytest.raises(ValueError, match="t must be"):
        D.error_map(ring, ring, 1.5, BOX)
    with pytest.raises(ValueError, match="bounds"):
        D.continuity_residual(ring, ring, 0.5, (1, 0, 0, 1))
    with pytest.raises(TypeError, match="ExactMarginal"):
        D.nll(ring, "two_moons")
    with pytest.raises(ValueError, match="NaN"):
        D.memorization(torch.full((3, 2), math.nan), torch.randn(4, 2))


# ----------------------------------------------------------------------------- target file


def test_saved_model_keeps_its_target(tmp_path, ring, trained):
    trained[400].save(tmp_path / "m")
    f = tmp_path / "m" / TARGET_FILE
    assert f.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    model = flowscope.load(tmp_path / "m")
    assert torch.equal(model.target.means, ring.means)
    assert torch.equal(model.target.widths, ring.widths)
    r1 = D.error_by_t(model, model.target, bins=3, n=300)
    r2 = D.error_by_t(trained[400], ring, bins=3, n=300)
    assert torch.allclose(r1.field_mse, r2.field_mse)
    labelled = _ring(labels=True)
    save_target(tmp_path / "lab", labelled)
    assert torch.equal(read_target(tmp_path / "lab").labels, labelled.labels)
    # a target file from another save (a kill between the two writes) is not taken for this one
    other = trained[40]
    other.target = labelled
    other.save(tmp_path / "other")
    f.write_bytes((tmp_path / "other" / TARGET_FILE).read_bytes())
    assert flowscope.load(tmp_path / "m").target is None
    assert flowscope.load(tmp_path / "other").target.labels is not None
    # a model without a target saved over the directory removes the stale one
    model.target = None
    model.save(tmp_path / "m")
    assert not f.exists() and flowscope.load(tmp_path / "m").target is None
    f.write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="target"):
        flowscope.load(tmp_path / "m")


def test_import_flowscope_stays_cheap_and_exposes_diagnostics():
    code = (
        "import sys, flowscope\n"
        "assert 'torch' not in sys.modules, 'import flowscope loaded torch'\n"
        "import flowscope.diagnostics as d\n"
        "assert flowscope.diagnostics is d and callable(d.error_by_t)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
