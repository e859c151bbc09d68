"""The lens's network arrow on the compute side: in-process and in the child process (which
answers the 'lens' kind first), equal to the model's own velocity and score at the point."""

import time

import numpy as np
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train.compute import ComputeWorker
from flowscope.train.compute_process import PRIORITY, ProcessComputeWorker
from flowscope.train.lens import LensRequest
from flowscope.train.trainer import TrainConfig, Trainer

EM = ExactMarginal(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), widths=0.4)


def _snapshot():
    tr = Trainer(EM, ModelConfig(width=16, depth=2), TrainConfig(steps=5, batch_size=32))
    tr.run()
    return tr.snapshot()


def test_lens_request_gives_the_models_field_at_one_point():
    snap = _snapshot()
    res = ComputeWorker().compute_now(LensRequest(3, snap, (0.4, -0.7), 0.6))
    m = snap.to_model()
    x, t = torch.tensor([[0.4, -0.7]]), torch.full((1,), 0.6)
    assert res.generation == 3 and res.step == 5
    np.testing.assert_allclose(res.velocity, m.velocity(x, t).double().numpy()[0], atol=1e-6)
    np.testing.assert_allclose(res.score, m.score(x, t).double().numpy()[0], atol=1e-6)


def test_the_child_process_answers_lens_requests_first():
    assert PRIORITY[0] == "lens"
    snap = _snapshot()
    w = ProcessComputeWorker()
    w.start()
    try:
        deadline = time.time() + 120
        while not w.ready and time.time() < deadline:
            time.sleep(0.02)
        assert w.ready
        w.submit(LensRequest(1, snap, (1.0, 1.0), 0.3))
        res = None
        while res is None and time.time() < deadline:
            res = w.take("lens")
            time.sleep(0.01)
        assert res is not None and w.computed_remotely == 1
        ref = ComputeWorker().compute_now(LensRequest(1, snap, (1.0, 1.0), 0.3))
        np.testing.assert_allclose(res.velocity, ref.velocity, atol=1e-6)
    finally:
        w.stop()


def test_straightness_request_in_the_child_process():
    from flowscope.core.straightness import straightness
    from flowscope.train.straightness_request import StraightnessRequest

    assert "straightness" in PRIORITY
    snap = _snapshot()
    w = ProcessComputeWorker()
    w.start()
    try:
        deadline = time.time() + 120
        while not w.ready and time.time() < deadline:
            time.sleep(0.02)
        w.submit(StraightnessRequest(2, snap, EM, n=200, steps=10))
        res = None
        while res is None and time.time() < deadline:
            res = w.take("straightness")
            time.sleep(0.01)
        assert res is not None and res.step == 5
        x0 = torch.randn((200, 2), generator=torch.Generator().manual_seed(0))
        ref = straightness(snap.to_model(), steps=10, x0=x0)
        assert abs(res.learned["kinetic_energy"] - ref["kinetic_energy"]) < 1e-4
        assert res.exact["kinetic_energy"] >= res.exact["transport_cost"]
    finally:
        w.stop()
