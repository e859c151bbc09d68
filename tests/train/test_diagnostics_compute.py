"""The explorer's diagnostics on the compute side: the same numbers as the engine
(flowscope.diagnostics), the oracle's own field scores zero, and the heatmaps' colour scales
match their data (the continuity residual's symmetric around 0)."""

import numpy as np
import pytest
import torch

from flowscope import diagnostics as D
from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig, Trainer
from flowscope.train.compute import ComputeWorker
from flowscope.train.compute_process import PRIORITY
from flowscope.train.diagnostics_compute import (
    LOGP_RANGE,
    MAP_KINDS,
    DiagMapRequest,
    DiagnosticsRequest,
    compute_diagnostics,
    compute_map,
)

EM = ExactMarginal(torch.tensor([[-1.5, 0.0], [1.5, 0.5]]), widths=0.4)
BOUNDS = (-3.0, 3.0, -3.0, 3.0)


class _Snap:
    step = 7


@pytest.fixture(scope="module")
def snap():
    tr = Trainer(EM, ModelConfig(width=32, depth=2), TrainConfig(steps=40, batch_size=128))
    tr.run()
    return tr.snapshot()


def test_every_diagnostics_kind_is_served_by_the_compute_process():
    assert {"diagnostics", "diagmap"} <= set(PRIORITY) and PRIORITY[-1] == "diagnostics"
    assert {"diagnostics", "diagmap"} <= set(ComputeWorker.KINDS)


def test_panel_numbers_are_the_engines(snap):
    w = ComputeWorker()
    req = DiagnosticsRequest(3, EM, snap, steps=8, error_n=400, decompose_n=200, nll_n=60,
                             nll_steps=6, seed=2)  # fmt: skip
    res = w.compute_now(req)
    assert res.generation == 3 and res.step == snap.step == 40
    model = snap.to_model()
    e = D.error_by_t(model, EM, bins=20, n=400, seed=2)
    np.testing.assert_allclose(res.field_mse, e.field_mse.numpy(), rtol=1e-6)
    np.testing.assert_allclose(res.excess_loss, e.excess_loss.numpy(), rtol=1e-5, atol=1e-9)
    assert (res.field_mse > 0).all()  # an MLP after 40 steps is not the exact field
    d = D.decompose(model, EM, 8, "heun", 0.0, n=200, seed=2)
    for k in ("total", "network", "solver", "floor"):
        assert res.decomposition[k] == pytest.approx(getattr(d, k), rel=1e-6)
    v = D.nll(model, EM, n=60, seed=2, steps=6)
    assert res.nll["model"] == pytest.approx(v.model, rel=1e-6)
    assert res.nll["exact"] == pytest.approx(v.exact, rel=1e-9)
    assert res.samples.shape == (200, 2) and res.memorization is None


def test_the_exact_field_scores_zero_and_its_nll_is_the_exact_one():
    req = DiagnosticsRequest(1, EM, _Snap(), steps=50, error_n=400, decompose_n=300, nll_n=200,
                             nll_steps=30)  # fmt: skip
    res = compute_diagnostics(req, EM)
    assert np.abs(res.field_mse).max() < 1e-12
    d = res.decomposition
    assert d["network"] == pytest.approx(d["floor"], rel=1e-6)
    assert res.nll["model"] == pytest.approx(res.nll["exact"], abs=0.02)


def test_memorization_of_a_point_set_by_its_exact_field():
    pts = torch.tensor([[float(i % 4), float(i // 4)] for i in range(10)]) - 1.5
    points = ExactMarginal(pts)  # h = 0: the exact marginal reproduces the training points
    req = DiagnosticsRequest(1, points, _Snap(), parts=("decompose", "memorization"),
                             steps=100, solver="rk4", decompose_n=300,
                             train_points=pts.numpy())  # fmt: skip
    res = compute_diagnostics(req, points)
    assert res.memorization["share"] > 0.9
    assert res.nearest.shape == (300,) and np.median(res.nearest) < 0.05


def test_pause_is_called_between_parts():
    calls = []
    req = DiagnosticsRequest(1, EM, _Snap(), error_n=100, decompose_n=50, nll_n=20, nll_steps=4,
                             steps=4)  # fmt: skip
    compute_diagnostics(req, EM, pause=lambda: calls.append(1))
    assert len(calls) == 3


def test_heatmaps_match_the_engine_and_their_scales(snap):
    model = snap.to_model()
    w = ComputeWorker()
    for kind in MAP_KINDS:
        res = w.compute_now(DiagMapRequest(1, EM, snap, kind, 0.7, BOUNDS, res=24, logp_steps=8))
        assert res.values.shape == (24, 24) and res.kind == kind
        v = res.values.astype(np.float64)
        lo, hi = res.levels
        if kind == "continuity":
            assert res.diverging and lo == -hi and hi == pytest.approx(np.abs(v).max(), rel=1e-6)
            ref = D.continuity_residual(model, EM, 0.7, BOUNDS, 24).values.numpy()
            np.testing.assert_allclose(v, ref, rtol=1e-4, atol=1e-6)
        elif kind.startswith("error"):
            ref = D.error_map(model, EM, 0.7, BOUNDS, 24, weighted=kind == "error").values
            np.testing.assert_allclose(v, ref.numpy(), rtol=1e-5, atol=1e-9)
            assert (lo, hi) == (0.0, pytest.approx(v.max(), rel=1e-6)) and hi > 0
        else:
            assert hi == pytest.approx(v.max(), rel=1e-6) and lo >= hi - LOGP_RANGE - 1e-6
            assert v.min() >= lo - 1e-5 and res.t == 1.0


def test_exact_field_maps_are_zero_and_the_model_density_is_the_exact_one():
    """With the exact field as the 'model', the error map and the continuity residual vanish and
    the model's log p_1 (log-likelihood ODE) is the closed form."""
    kw = dict(t=0.6, bounds=BOUNDS, res=16)
    err = compute_map(DiagMapRequest(1, EM, _Snap(), "error_unweighted", **kw), EM)
    assert np.abs(err.values).max() < 1e-10
    cont = compute_map(DiagMapRequest(1, EM, _Snap(), "continuity", **kw), EM)
    dp = D.continuity_residual(EM, EM, 0.6, BOUNDS, 16).dp_dt.abs().max()
    assert np.abs(cont.values).max() < 1e-4 * float(dp)
    m = compute_map(DiagMapRequest(1, EM, _Snap(), "model_logp", logp_steps=40, **kw), EM)
    e = compute_map(DiagMapRequest(1, EM, None, "exact_logp", **kw), None)
    keep = e.values > e.levels[1] - 6  # where the density is not clipped
    np.testing.assert_allclose(m.values[keep], e.values[keep], atol=0.05)


def test_a_heatmap_that_needs_weights_says_so():
    with pytest.raises(ValueError, match="trained model"):
        compute_map(DiagMapRequest(1, EM, None, "error", 0.5, BOUNDS), None)
