"""Priorities (ARCHITECTURE.md): a user's request first, then the trainer, then background work.
UserWork is the flag trainers yield to; DutyCycle paces background work; the thread worker
serves urgent kinds first and raises the flag until they are answered."""

import threading
import time

import pytest
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig, Trainer, priority
from flowscope.train.compute import ComputeWorker, FieldRequest, TrajectoryRequest
from flowscope.train.priority import DutyCycle, UserWork
from flowscope.train.session import TrainingSession

EM = ExactMarginal(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), widths=0.4)
BOUNDS = (-3.0, 3.0, -3.0, 3.0)


def _until(fn, timeout=60.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.01)
    return False


def test_user_work_is_up_until_lowered_or_its_deadline():
    uw = UserWork()
    assert not uw.active
    uw.raise_(60.0)
    assert uw.active
    uw.lower()
    assert not uw.active
    uw.raise_(0.05)  # nobody lowers it (a compute child died): it expires by itself
    assert uw.active
    assert _until(lambda: not uw.active, timeout=10)


def test_a_trainer_waits_while_the_flag_is_up_and_no_longer():
    uw = UserWork()
    assert uw.yield_while_active() == 0.0  # lowered: no wait at all
    uw.raise_(60.0)
    sleeps = []

    def sleep(s):  # the compute side answers after the third look
        sleeps.append(s)
        if len(sleeps) == 3:
            uw.lower()

    uw.yield_while_active(sleep)
    assert len(sleeps) == 3 and not uw.active


def test_the_wait_is_bounded_even_if_the_flag_stays_up(monkeypatch):
    monkeypatch.setattr(priority, "YIELD_MAX_S", 0.1)
    uw = UserWork()
    uw.raise_(60.0)
    waited = uw.yield_while_active()
    assert 0.1 <= waited < 5.0 and uw.active


def test_the_windows_hold_outlasts_the_compute_sides_flag_and_expires():
    """The window holds the trainer while it redraws for a user's action; the compute side
    lowering its own flag (its request answered) does not end that hold, a shorter hold never
    shortens it, and it ends by itself."""
    uw = UserWork()
    uw.hold_for_window(60.0)
    assert uw.active
    uw.raise_(60.0)
    uw.lower()  # the compute side answered its request
    assert uw.active
    uw.hold_for_window(0.01)
    time.sleep(0.05)
    assert uw.active  # the 60 s hold stands
    brief = UserWork()
    brief.hold_for_window(0.05)
    assert brief.active
    assert _until(lambda: not brief.active, timeout=10)
    assert brief.yield_while_active() == 0.0


def test_a_trainer_child_stops_its_chunk_at_the_step_when_the_window_holds_it(monkeypatch):
    """The trainer process trains in chunks of POLL_EVERY steps between command polls; the
    window's hold raised during a chunk (a user picks a preset) ends it after the step under
    way, not POLL_EVERY - 1 steps later (16-36 ms beside the window's action). The compute
    side's flag (up at every slider move) lets the chunk finish: ending chunks on it cost the
    trainer 15% of its speed in gui_soak."""
    import queue

    from flowscope.train import messages as msg
    from flowscope.train import trainer_worker as tw

    uw = UserWork()
    cmd_q, out_q = queue.Queue(), queue.Queue()
    done_at_yield = []  # the trainer's step count each time it asks whether to yield
    trainer_ref = []
    step = Trainer.step

    def counted_step(self, n=1):
        trainer_ref[:] = [self]
        if self.step_count >= 2 and not uw.active:
            uw.hold_for_window(60.0)  # from now on, while this step runs
        return step(self, n)

    def yielding(sleep=time.sleep):
        done_at_yield.append(trainer_ref[0].step_count if trainer_ref else 0)
        if uw.active:
            cmd_q.put(tw.pack((1, msg.Stop())))  # the session ends at the next poll
        return 0.0

    monkeypatch.setattr(Trainer, "step", counted_step)
    monkeypatch.setattr(uw, "yield_while_active", yielding)
    begin = msg.Begin(tw.pack(EM), ModelConfig(width=16, depth=1),
                      TrainConfig(steps=None, batch_size=32, device="cpu"))  # fmt: skip
    cmd_q.put(tw.pack((1, msg.Resume())))
    assert tw._serve(1, begin, cmd_q, out_q, uw, None)
    # before building, before the first chunk, then right after the step the hold began in
    assert done_at_yield[:3] == [0, 0, 3], done_at_yield
    assert tw.POLL_EVERY > 3  # else the chunk would have ended there anyway

    # the compute side's flag: the chunk under way is finished first
    uw2 = UserWork()
    done_at_yield.clear()
    trainer_ref.clear()

    def counted_step2(self, n=1):
        trainer_ref[:] = [self]
        if self.step_count >= 2 and not uw2.active:
            uw2.raise_(60.0)
        return step(self, n)

    def yielding2(sleep=time.sleep):
        done_at_yield.append(trainer_ref[0].step_count if trainer_ref else 0)
        if uw2.active:
            cmd_q.put(tw.pack((2, msg.Stop())))
        return 0.0

    monkeypatch.setattr(Trainer, "step", counted_step2)
    monkeypatch.setattr(uw2, "yield_while_active", yielding2)
    cmd_q.put(tw.pack((2, msg.Resume())))
    assert tw._serve(2, begin, cmd_q, out_q, uw2, None)
    assert done_at_yield[:3] == [0, 0, tw.POLL_EVERY], done_at_yield


def test_duty_cycle_waits_for_the_rest_of_its_share():
    waits = []
    dc = DutyCycle(0.2, wait=waits.append)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.02:  # 20 ms of work
        pass
    dc.pace()
    # a fifth of the wall time working: 4 x the work waiting
    assert len(waits) == 1 and 4 * 0.02 <= waits[0] < 4 * 0.02 + 4 * 2.0
    DutyCycle(1.0, wait=waits.append).pace()
    assert len(waits) == 1  # a full share never waits
    with pytest.raises(ValueError, match="duty"):
        DutyCycle(0.0)


def test_trainer_run_asks_before_every_step_and_thread_sessions_yield():
    trainer = Trainer(EM, ModelConfig(width=16, depth=2), TrainConfig(steps=3, batch_size=16))
    calls = []
    trainer.before_step = lambda: calls.append(trainer.step_count)
    trainer.run()
    assert calls == [0, 1, 2]
    uw = UserWork()
    s = TrainingSession(EM, ModelConfig(width=16, depth=2), TrainConfig(steps=None), user_work=uw)
    assert s.trainer.before_step == uw.yield_while_active
    s.reset()
    assert s.trainer.before_step == uw.yield_while_active  # also for the new trainer


class _Recording(ComputeWorker):
    def __init__(self):
        super().__init__()
        self.user_work = UserWork()
        self.order: list[str] = []
        self.flag_while_computing: list[bool] = []

    def _run(self, req):
        self.order.append(req.KIND)
        self.flag_while_computing.append(self.user_work.active)
        return super()._run(req)


def test_the_thread_worker_serves_a_users_request_first_and_raises_the_flag_meanwhile():
    w = _Recording()
    with w._cond:  # both arrive before the worker thread looks: the background one first
        w.submit(TrajectoryRequest(1, EM, None, n=50, steps=4))
        w.submit(FieldRequest(1, EM, None, 0.5, BOUNDS, grid=5, density_grid=8), urgent=True)
        assert w.urgent("field") and not w.urgent("trajectory") and w.user_work.active
    w.start()
    try:
        assert _until(lambda: len(w.order) == 2 and not w.busy)
        assert w.order == ["field", "trajectory"]  # the user's request went first
        assert w.flag_while_computing == [True, False]  # the trainer yielded for it only
        assert not w.urgent("field") and not w.user_work.active
    finally:
        w.stop()


def test_an_urgent_kind_stays_urgent_while_a_replacement_is_pending():
    w = ComputeWorker()
    w.user_work = UserWork()
    gate = threading.Event()
    w.compute_now = lambda req, pause=None: gate.wait(30) and req  # type: ignore[method-assign]
    w.start()
    try:
        w.submit(FieldRequest(1, EM, None, 0.5, BOUNDS), urgent=True)
        assert _until(lambda: w.working_on("field") and w.busy)
        w.submit(FieldRequest(2, EM, None, 0.6, BOUNDS))  # a background one replaces it
        gate.set()
        assert _until(lambda: not w.busy and not w.working_on("field"))
        assert not w.user_work.active and not w.urgent("field")
    finally:
        gate.set()
        w.stop()
