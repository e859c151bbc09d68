"""The compute worker: stale requests are dropped, results match the exact oracle, and the CFG
overlays (guided / conditional / unconditional, guided density) are the closed forms."""

import time

import numpy as np
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig, Trainer
from flowscope.train.compute import ComputeWorker, FieldRequest, TrajectoryRequest, grid_points

EM = ExactMarginal(
    torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]]), widths=0.3, labels=[0, 1, 1]
)
BOUNDS = (-3.0, 3.0, -3.0, 3.0)


class _CountingWorker(ComputeWorker):
    """Records the generation of every request the worker thread computes."""

    def __init__(self):
        super().__init__()
        self.computed: list[int] = []

    def _run(self, req):
        self.computed.append(req.generation)
        return super()._run(req)


def test_only_the_newest_pending_request_is_computed():
    w = _CountingWorker()
    for g in (1, 2, 3):
        w.submit(TrajectoryRequest(g, EM, None, n=50, steps=5))
    w.start()
    deadline = time.time() + 20
    res = None
    while res is None and time.time() < deadline:
        res = w.take("trajectory")
        time.sleep(0.01)
    w.stop()
    assert res is not None and res.generation == 3
    assert w.computed == [3]  # the stale ones were never computed


def test_trajectories_share_seeds_and_shapes():
    w = ComputeWorker()
    r = w.compute_now(TrajectoryRequest(1, EM, None, n=200, steps=10, sigma=0.5))
    assert r.ode.shape == (11, 200, 2) and r.sde.shape == (11, 200, 2)
    np.testing.assert_array_equal(r.ode[0], r.sde[0])  # the same X_0
    assert not np.allclose(r.ode[-1], r.sde[-1])
    assert r.source == "exact"


def test_guidance_overlays_are_the_exact_closed_forms():
    w = ComputeWorker()
    pts = grid_points(BOUNDS, 9).double()
    tt = torch.full((pts.shape[0],), 0.6, dtype=torch.float64)
    cond, uncond = EM.velocity(pts, tt, 1), EM.velocity(pts, tt)

    def field(part, wgt=3.0):
        req = FieldRequest(
            1,
            EM,
            None,
            0.6,
            BOUNDS,
            "exact",
            grid=9,
            density_grid=16,
            sigma=0.0,
            y=1,
            w=wgt,
            guide_part=part,
        )
        return torch.from_numpy(w.compute_now(req).ode_field).double()

    torch.testing.assert_close(field("conditional"), cond, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(field("unconditional"), uncond, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(field("guided"), -2 * uncond + 3 * cond, atol=1e-4, rtol=1e-5)


def test_guided_density_is_the_normalized_tilted_target():
    w = ComputeWorker()
    req = FieldRequest(
        1,
        EM,
        None,
        1.0,
        BOUNDS,
        "exact",
        grid=5,
        density_grid=40,
        y=0,
        w=2.0,
        density_kind="guided",
    )
    dens = w.compute_now(req).density
    assert abs(dens.sum() - 1.0) < 1e-5
    pts = grid_points(BOUNDS, 40).double()
    logp = 2.0 * EM.log_prob(pts, 1.0, 0) - EM.log_prob(pts, 1.0)
    ref = torch.softmax(logp, 0).reshape(40, 40).numpy()
    np.testing.assert_allclose(dens, ref, atol=1e-6)


def test_learned_difference_field_is_learned_minus_exact():
    tr = Trainer(
        EM,
        ModelConfig(width=32, depth=2, num_classes=2),
        TrainConfig(steps=20, batch_size=64, device="cpu"),
    )
    tr.run()
    snap = tr.snapshot()
    w = ComputeWorker()
    base = dict(t=0.5, bounds=BOUNDS, grid=7, density_grid=8, sigma=0.0)
    learned = w.compute_now(FieldRequest(1, EM, snap, field_source="learned", **base)).ode_field
    exact = w.compute_now(FieldRequest(2, EM, snap, field_source="exact", **base)).ode_field
    diff = w.compute_now(FieldRequest(3, EM, snap, field_source="difference", **base)).ode_field
    np.testing.assert_allclose(diff, learned - exact, atol=1e-4)
    r = w.compute_now(TrajectoryRequest(4, EM, snap, n=100, steps=5, score_quality=True))
    assert r.source == "learned" and r.step == 20 and r.energy is not None and r.energy > 0


def test_exact_heatmap_is_cached_per_t_quantum_and_per_target():
    from flowscope.train.compute import DENSITY_T_QUANTUM

    w = ComputeWorker()
    a = w.compute_now(FieldRequest(1, EM, None, 0.5, BOUNDS, density_grid=32))
    b = w.compute_now(FieldRequest(2, EM, None, 0.5 + 0.4 * DENSITY_T_QUANTUM, BOUNDS,
                                   density_grid=32))  # fmt: skip
    assert np.array_equal(a.density, b.density) and len(w.context.density_cache) == 1
    assert b.t == 0.5 + 0.4 * DENSITY_T_QUANTUM  # the arrows use the exact t
    pts = grid_points(BOUNDS, 32).double()
    ref = EM.log_prob(pts, 0.5).exp().reshape(32, 32).float().numpy()
    np.testing.assert_allclose(a.density, ref, rtol=1e-5)
    c = w.compute_now(FieldRequest(3, EM, None, 0.6, BOUNDS, density_grid=32))
    assert not np.array_equal(a.density, c.density) and len(w.context.density_cache) == 2
    other = ExactMarginal(torch.tensor([[1.0, 1.0]]), widths=0.5)  # a new target: no reuse
    d = w.compute_now(FieldRequest(4, other, None, 0.5, BOUNDS, density_grid=32))
    ref = other.log_prob(pts, 0.5).exp().reshape(32, 32).float().numpy()
    np.testing.assert_allclose(d.density, ref, rtol=1e-5)
    # while t plays the window asks for a coarser step: 0.503 and 0.497 share the heatmap at 0.5
    e = w.compute_now(FieldRequest(5, EM, None, 0.503, BOUNDS, density_grid=32,
                                   density_t_step=0.01))  # fmt: skip
    f = w.compute_now(FieldRequest(6, EM, None, 0.497, BOUNDS, density_grid=32,
                                   density_t_step=0.01))  # fmt: skip
    np.testing.assert_allclose(e.density, a.density, rtol=1e-6)
    np.testing.assert_allclose(f.density, a.density, rtol=1e-6)
    assert len(w.context.density_cache) == 3 and e.t == 0.503


def test_a_field_computed_while_a_trajectory_pauses_does_not_change_its_weights():
    """The window's arrows are served between a trajectory's field evaluations; they may come
    from a newer snapshot, which must not leak into the paused trajectory's model."""
    tr = Trainer(EM, ModelConfig(width=16, depth=2), TrainConfig(steps=None, batch_size=64))
    tr.step(3)
    old = tr.snapshot()
    tr.step(30)
    new = tr.snapshot()
    req = TrajectoryRequest(1, EM, old, n=64, steps=6, sigma=0.5)
    ref = ComputeWorker().compute_now(req)
    w = ComputeWorker()
    pauses = []

    def pause():
        pauses.append(w.compute_now(FieldRequest(len(pauses), EM, new, 0.3, BOUNDS, grid=5)))

    got = w.compute_now(req, pause)
    assert len(pauses) >= 6 * 2 + 6  # before every evaluation: 2 per Heun step, 1 per SDE step
    np.testing.assert_allclose(got.ode, ref.ode, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.sde, ref.sde, rtol=1e-6, atol=1e-6)
    alone = ComputeWorker().compute_now(FieldRequest(9, EM, new, 0.3, BOUNDS, grid=5))
    np.testing.assert_allclose(pauses[-1].ode_field, alone.ode_field, rtol=1e-6)  # new weights


def test_working_on_tells_the_kinds_apart():
    w = ComputeWorker()
    w.submit(TrajectoryRequest(1, EM, None, n=20, steps=2))
    assert w.working_on("trajectory") and not w.working_on("field")
    w.start()
    try:
        deadline = time.time() + 20
        while w.take("trajectory") is None and time.time() < deadline:
            time.sleep(0.01)
        assert not w.working_on("trajectory")
    finally:
        w.stop()
