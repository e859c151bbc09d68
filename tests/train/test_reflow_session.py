"""Reflow's engine behind the app: the compute child answers 'reflow' requests with the model's
(x_0, ODE(x_0)) pairs, and a training child given pairs trains on them (not on the target)."""

import time

import numpy as np
import torch

from flowscope.core.couplings import PairBank
from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig
from flowscope.train.compute import ComputeWorker
from flowscope.train.compute_process import PRIORITY, ProcessComputeWorker
from flowscope.train.process_session import ProcessTrainingSession, wait_ready
from flowscope.train.reflow import ReflowRequest
from flowscope.train.session import TrainingSession
from flowscope.train.trainer import Trainer

BLOBS = ExactMarginal(torch.tensor([[-1.5, 0.0], [1.5, 0.5]]), widths=0.3)
SHIFT = torch.tensor([3.0, 0.0])


def _until(fn, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.02)
    return False


def _shift_pairs(n=4000):
    x0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(0))
    return PairBank(x0, x0 + SHIFT)  # every path straight with u = x_1 - x_0 = (3, 0)


def _snapshot(steps=30):
    tr = Trainer(BLOBS, ModelConfig(width=16, depth=2), TrainConfig(steps=steps, batch_size=64))
    tr.run()
    return tr.snapshot()


def test_reflow_request_draws_the_models_ode_pairs_in_the_child():
    assert "reflow" in PRIORITY and "reflow" in ComputeWorker.KINDS
    snap = _snapshot()
    w = ProcessComputeWorker()
    w.start()
    try:
        assert _until(lambda: w.ready)
        w.submit(ReflowRequest(4, snap, n=300, ode_steps=20), urgent=True)
        res = None

        def answered():
            nonlocal res
            res = w.take("reflow")
            return res is not None

        assert _until(answered)
    finally:
        w.stop()
    assert res.generation == 4 and res.error is None and res.x0.shape == (300, 2)
    m = snap.to_model()
    x1 = m.sample(300, steps=20, solver="heun", x0=torch.from_numpy(res.x0))
    np.testing.assert_allclose(res.x1, x1.numpy(), atol=1e-4)
    assert res.before["kinetic_energy"] >= res.before["transport_cost"] - 1e-6


def test_a_score_model_is_not_reflowed():
    tr = Trainer(BLOBS, ModelConfig(width=16, depth=2, parameterization="score"),
                 TrainConfig(steps=3, batch_size=32))  # fmt: skip
    tr.run()
    res = ComputeWorker().compute_now(ReflowRequest(1, tr.snapshot(), n=50))
    assert res.error and "velocity" in res.error and len(res.x0) == 0


def _fits_the_shift(snap) -> bool:
    m = snap.to_model()
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(1))
    u = m.velocity(x, torch.full((256,), 0.5))
    return bool((u - SHIFT).norm(dim=1).mean() < 0.3)


def test_training_sessions_train_on_the_pairs_they_are_given():
    tc = TrainConfig(steps=None, batch_size=128, lr=5e-3, device="cpu", snapshot_hz=20.0,
                     normalize="none")  # fmt: skip
    t = TrainingSession(BLOBS, ModelConfig(width=32, depth=2), tc)
    t.set_pairs(_shift_pairs())
    assert t.trainer._pairs is not None
    t.step_once(400)
    assert _fits_the_shift(t.latest_snapshot)

    s = ProcessTrainingSession(BLOBS, ModelConfig(width=32, depth=2), tc)
    s.set_pairs(_shift_pairs())
    try:
        s.start()
        assert wait_ready(s, 120.0)
        assert _until(lambda: s.step_count >= 400 and s.latest_snapshot is not None
                      and s.latest_snapshot.step >= 400)  # fmt: skip
        s.pause()
        assert _fits_the_shift(s.latest_snapshot)
    finally:
        s.stop()
