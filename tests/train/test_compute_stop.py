"""Stopping a compute worker abandons what it computes (issue 10: a window's close must not wait
for a computation, nor share the GIL with one), and its threads keep the caller's priority.

Each request here takes 10-30 s of CPU on a quiet machine; without the abandoning, ``stop``
waits for it to end (a result appears) or times out with the thread alive."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig, Trainer
from flowscope.train.compute import ComputeWorker, TrajectoryRequest
from flowscope.train.render import Abandoned, RenderContext
from flowscope.train.straightness_request import StraightnessRequest

#: 400 components: one exact field evaluation of 20k particles takes ~70 ms of CPU
BIG = ExactMarginal(torch.randn(400, 2, generator=torch.Generator().manual_seed(0)), widths=0.3)
SMALL = ExactMarginal(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), widths=0.3)
STOP_S = 60.0  # far more than one field evaluation takes, even on a loaded machine


def _wait_computing(w: ComputeWorker, kind: str) -> None:
    deadline = time.monotonic() + 120
    while w._current != kind:
        assert time.monotonic() < deadline, "the worker never started the request"
        time.sleep(0.005)


def _stop_while_computing(w: ComputeWorker, kind: str, count: list[int]) -> None:
    """Stop ``w`` once its thread computes ``kind`` and has made a few field evaluations; the
    thread must end, with no result and no error, long before the request could finish."""
    _wait_computing(w, kind)
    deadline = time.monotonic() + 120
    while count[0] < 2:
        assert time.monotonic() < deadline, "no field evaluation happened"
        time.sleep(0.005)
    w.stop(timeout=STOP_S)
    assert w._thread is not None and not w._thread.is_alive()
    assert w.take(kind) is None  # abandoned, not finished
    assert w.last_error is None  # abandoning is not an error the window would show
    assert not w.busy and not w.working_on(kind)


class _CountingWorker(ComputeWorker):
    """Counts the pause points its thread passes (one per field evaluation of a trajectory)."""

    def __init__(self, count: list[int]):
        super().__init__()
        self.count = count

    def _abandon_point(self) -> None:
        self.count[0] += 1
        super()._abandon_point()


def test_stop_abandons_an_exact_trajectory_in_flight():
    count = [0]
    w = _CountingWorker(count)
    w.start()
    # ~600 exact evaluations of ~70 ms each: ~40 s of CPU if it ran to its end
    w.submit(TrajectoryRequest(1, BIG, None, n=20_000, steps=300, sigma=0.5))
    _stop_while_computing(w, "trajectory", count)
    assert count[0] < 300  # it ended within the ODE pass


def test_stop_abandons_a_request_without_pause_points_at_its_next_network_evaluation():
    """Straightness requests are computed in one pass (no pause points): the inference model's
    forward hook is where they end."""
    tr = Trainer(SMALL, ModelConfig(width=32, depth=2),
                 TrainConfig(steps=2, batch_size=64, device="cpu"))  # fmt: skip
    tr.run()
    snap = tr.snapshot()
    w = ComputeWorker()
    count = [0]
    # the model the worker will use for this kind, made now so that its evaluations are counted
    model = w.context.model_for(snap, slot="straightness")
    model.net.register_forward_pre_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    w.start()
    w.submit(StraightnessRequest(1, snap, SMALL, n=400_000, steps=2_000))  # minutes at full length
    _stop_while_computing(w, "straightness", count)


def test_a_stopped_worker_still_computes_for_other_threads():
    """render_now (scripted mode, exports) uses the worker's context from the GUI thread: the
    abandoning applies to the worker's own thread only."""
    w = ComputeWorker()
    w.start()
    w.stop(timeout=STOP_S)
    res = w.compute_now(TrajectoryRequest(1, SMALL, None, n=50, steps=4))
    assert res.ode.shape == (5, 50, 2)


def test_a_context_without_a_worker_is_never_cancelled_and_one_that_is_raises():
    tr = Trainer(SMALL, ModelConfig(width=16, depth=1),
                 TrainConfig(steps=1, batch_size=32, device="cpu"))  # fmt: skip
    tr.run()
    ctx = RenderContext()
    model = ctx.model_for(tr.snapshot(), "x")
    x, t = torch.zeros(3, 2), torch.full((3,), 0.5)
    assert model.velocity(x, t).shape == (3, 2)
    ctx.cancelled = lambda: True
    with pytest.raises(Abandoned):
        model.velocity(x, t)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities: Linux only")
def test_compute_threads_keep_the_callers_priority():
    """A niced thread in the window's process holds the GIL while it is descheduled, and the GUI
    thread waits (a priority inversion): the worker threads run at the window's nice value,
    also when the compute child itself is niced (the old idle priority)."""
    from flowscope.train.compute_process import COMPUTE_NICE, ProcessComputeWorker

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for w in (ComputeWorker(), ProcessComputeWorker(nice=COMPUTE_NICE)):
        w.start()
        try:
            w.submit(TrajectoryRequest(1, SMALL, None, n=50, steps=4))
            deadline = time.monotonic() + 120
            while w.urgent("trajectory") or "trajectory" in w._pending:  # the loop took it
                assert time.monotonic() < deadline
                time.sleep(0.01)
            threads = [t for t in (w._thread, getattr(w, "_receiver", None)) if t is not None]
            assert threads
            for t in threads:
                assert t.native_id is not None
                assert os.getpriority(os.PRIO_PROCESS, t.native_id) == mine, t.name
        finally:
            w.stop()
