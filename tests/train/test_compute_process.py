"""The compute worker in a child process: same results as in-process, newest-only, a clean stop,
and a fallback to in-process work before the child is ready and after it dies."""

import os
import signal
import time

import numpy as np
import pytest
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.train.compute import FieldRequest, TrajectoryRequest
from flowscope.train.compute_process import COMPUTE_NICE, ProcessComputeWorker
from flowscope.train.priority import BACKGROUND_DUTY, UserWork

EM = ExactMarginal(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), widths=0.4, labels=[0, 1])
BOUNDS = (-3.0, 3.0, -3.0, 3.0)


def _wait(fn, timeout=120.0):
    """fn()'s first true value; the timeout bounds a hang only (the child's start-up, a torch
    import, is seconds on a loaded machine and is never measured against a budget)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def child():
    """A started worker whose child process takes requests."""
    w = ProcessComputeWorker()
    w.start()
    try:
        _wait(lambda: w.ready)
        yield w
    finally:
        w.stop()


def test_child_results_equal_in_process_results(child):
    w = child
    req = TrajectoryRequest(5, EM, None, n=300, steps=10, seed=3)
    w.submit(req)
    res = _wait(lambda: w.take("trajectory"))
    assert w.computed_remotely == 1 and res.generation == 5
    ref = w.compute_now(req)
    np.testing.assert_allclose(res.ode, ref.ode, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.sde, ref.sde, rtol=1e-6, atol=1e-6)
    w.submit(FieldRequest(6, EM, None, 0.4, BOUNDS, density_grid=24))
    f = _wait(lambda: w.take("field"))
    np.testing.assert_allclose(f.density, w.compute_now(FieldRequest(
        6, EM, None, 0.4, BOUNDS, density_grid=24)).density, rtol=1e-6)  # fmt: skip
    assert w.computed_remotely == 2
    w.stop()
    assert not w._proc.is_alive()


def test_requests_before_the_child_is_ready_are_computed_here():
    w = ProcessComputeWorker()
    w.start()
    try:
        w.submit(TrajectoryRequest(1, EM, None, n=50, steps=4))
        res = _wait(lambda: w.take("trajectory"), timeout=30)
        assert res.ode.shape == (5, 50, 2)
    finally:
        w.stop()


class _Recording(ProcessComputeWorker):
    """Records the generation of every request the worker dispatches (to the child or here)."""

    def __init__(self):
        super().__init__()
        self.dispatched: list[int] = []

    def _run(self, req):
        self.dispatched.append(req.generation)
        return super()._run(req)


def test_newest_only_and_a_dead_child_falls_back():
    w = _Recording()
    w.start()
    try:
        _wait(lambda: w.ready)
        with w._cond:  # the three arrive together: the worker thread cannot take one between
            for g in (1, 2, 3):
                w.submit(TrajectoryRequest(g, EM, None, n=40, steps=4))
        res = _wait(lambda: w.take("trajectory"))
        assert res.generation == 3 and w.dispatched == [3]  # 1 and 2 were replaced unsent
        assert w.computed_remotely == 1 and w.computed_here == 0
        os.kill(w.pid, signal.SIGKILL)
        _wait(lambda: not w.ready)  # the receiver saw the pipe close
        w.submit(TrajectoryRequest(4, EM, None, n=40, steps=4))
        res = _wait(lambda: w.take("trajectory"))
        assert res.generation == 4 and w.last_error is None and not w.ready
        assert w.computed_here == 1  # computed in this process, as the child is gone
    finally:
        w.stop()


def test_stop_is_quick_while_the_child_is_busy(child):
    w = child
    w.submit(TrajectoryRequest(1, EM, None, n=200_000, steps=200))  # many seconds of work
    _wait(lambda: w.busy)
    t0 = time.perf_counter()
    w.stop(timeout=4.0)
    assert time.perf_counter() - t0 < 5.0
    assert not w._proc.is_alive() and not w._thread.is_alive()


def test_the_child_runs_at_normal_priority(child):
    """At idle priority it starved whenever another program used the CPU (issue 11, item 5):
    priorities are kept by the processes themselves (train/priority.py)."""
    assert os.getpriority(os.PRIO_PROCESS, child.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    if hasattr(os, "sched_getscheduler"):
        assert os.sched_getscheduler(child.pid) == os.SCHED_OTHER


def test_the_old_idle_priority_is_still_there_for_comparisons():
    w = ProcessComputeWorker(nice=COMPUTE_NICE)
    w.start()
    try:
        _wait(lambda: w.ready)
        if hasattr(os, "sched_getscheduler") and hasattr(os, "SCHED_IDLE"):
            assert os.sched_getscheduler(w.pid) == os.SCHED_IDLE
        else:  # elsewhere: niced below the trainer
            assert os.getpriority(os.PRIO_PROCESS, w.pid) > os.getpriority(os.PRIO_PROCESS, 0)
        assert w.user_work is None  # and the trainer never yields to it
    finally:
        w.stop()


def test_a_users_request_raises_the_flag_until_the_child_answers(child):
    child.user_work = UserWork()
    child.submit(TrajectoryRequest(1, EM, None, n=2000, steps=40), urgent=True)
    assert child.user_work.active and child.urgent("trajectory")
    res = _wait(lambda: child.take("trajectory"))
    assert res.generation == 1 and child.computed_remotely == 1
    assert not child.user_work.active and not child.urgent("trajectory")


def _child_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        utime, stime = f.read().rsplit(")", 1)[1].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def test_background_work_is_paced_to_its_share_of_a_core(child):
    """A background trajectory (learned particles while training) takes at most ~BACKGROUND_DUTY
    of a core, so the trainer keeps its own; a user's request then still goes at once."""
    child.submit(TrajectoryRequest(1, EM, None, n=20_000, steps=4000))  # minutes of work
    _wait(lambda: child.working_on("trajectory"))
    time.sleep(0.5)
    cpu0, t0 = _child_cpu(child.pid), time.perf_counter()
    time.sleep(3.0)
    share = (_child_cpu(child.pid) - cpu0) / (time.perf_counter() - t0)
    assert share < BACKGROUND_DUTY + 0.15  # unpaced it would be ~1 (less only under load)
    child.submit(FieldRequest(2, EM, None, 0.3, BOUNDS, grid=5, density_grid=8), urgent=True)
    f = _wait(lambda: child.take("field"), timeout=20)
    assert f.generation == 2 and child.working_on("trajectory")


def _inside_a_long_trajectory(w) -> None:
    """Give the child many seconds of work (12000 evaluations of 20k particles), and wait
    until it is computing it."""
    w.submit(TrajectoryRequest(1, EM, None, n=20_000, steps=4000))
    _wait(lambda: w.working_on("trajectory"))
    time.sleep(0.3)


def test_fields_are_answered_while_a_long_trajectory_computes(child):
    _inside_a_long_trajectory(child)
    for g in (2, 3):
        child.submit(FieldRequest(g, EM, None, 0.1 * g, BOUNDS, grid=5, density_grid=8))
        f = _wait(lambda: child.take("field"), timeout=20)
        assert f.generation == g
    assert child.working_on("trajectory") and child.take("trajectory") is None


def test_a_replaced_trajectory_is_abandoned_midway(child):
    _inside_a_long_trajectory(child)
    t0 = time.perf_counter()
    child.submit(TrajectoryRequest(2, EM, None, n=30, steps=3))
    res = _wait(lambda: child.take("trajectory"), timeout=20)
    assert res.generation == 2 and res.ode.shape == (4, 30, 2)
    assert time.perf_counter() - t0 < 5.0  # not after the seconds of the stale one
    _wait(lambda: not child.working_on("trajectory"))  # generation 1 answered 'dropped'
    assert child.take("trajectory") is None and child.last_error is None


def test_one_core_or_the_switch_keeps_the_worker_in_this_process(monkeypatch):
    from flowscope.train.compute import ComputeWorker
    from flowscope.train.compute_process import make_compute_worker

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert isinstance(make_compute_worker(), ProcessComputeWorker)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # no idle CPU for a child to live on
    w = make_compute_worker()
    assert isinstance(w, ComputeWorker) and not isinstance(w, ProcessComputeWorker)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    assert not isinstance(make_compute_worker(), ProcessComputeWorker)


def test_stop_is_quick_when_the_child_cannot_read_its_pipe(child):
    """A child starved of CPU (here: stopped) stops reading; sends then block on a full pipe,
    and closing the window must not wait for it."""
    import threading

    os.kill(child.pid, signal.SIGSTOP)
    big = ExactMarginal(torch.randn(20_000, 2), widths=0.3)  # ~0.5 MB a request: fills the pipe
    for g in (1, 2):
        child.submit(FieldRequest(g, big, None, 0.5, BOUNDS))
        time.sleep(0.3)
    stopper = threading.Thread(target=child.stop, kwargs={"timeout": 2.0}, daemon=True)
    t0 = time.perf_counter()
    stopper.start()
    stopper.join(15.0)
    assert not stopper.is_alive(), "stop() hung on the full pipe"
    assert time.perf_counter() - t0 < 8.0 and not child._proc.is_alive()


class _Counting(ProcessComputeWorker):
    """Counts the targets and the jobs that go down the pipe."""

    def __init__(self):
        super().__init__()
        self.sent: list[str] = []

    def _send(self, msg, wait=-1):
        self.sent.append(type(msg).__name__)
        return super()._send(msg, wait)


def test_a_target_goes_to_the_child_once_per_version():
    """Issue 10 (boundaries): requests carry a reference, not the pickled ExactMarginal."""
    w = _Counting()
    w.start()
    try:
        _wait(lambda: w.ready)
        other = EM.with_schedule("cosine")  # another target version (same mixture, new path)
        for g, exact in enumerate((EM, EM, other, EM, other), start=1):
            req = TrajectoryRequest(g, exact, None, n=60, steps=6, seed=g)
            w.submit(req)
            res = _wait(lambda: w.take("trajectory"))
            assert res.generation == g and w.computed_remotely == g
            np.testing.assert_allclose(res.ode, w.compute_now(req).ode, rtol=1e-6, atol=1e-6)
        assert w.sent.count("ComputeTarget") == 2 and w.sent.count("ComputeJob") == 5
    finally:
        w.stop()


def test_a_stream_of_background_fields_cannot_starve_a_background_trajectory(monkeypatch):
    """The arrows while t plays come ~4 times a second; each used to be served at the next
    field evaluation of a background trajectory (learned particles while training), which then
    advanced one evaluation per arrow request and never finished (none in 20 s of gui_soak).
    Now background work is served inside it only after FAIR_SLICE_S of its own work; a user's
    request still goes at once."""
    from flowscope.train import compute_process as cp

    class Conn:
        sent: list = []

        def poll(self, *_):
            return False

        def send_bytes(self, data):
            self.sent.append(cp.unpack(data))

    inbox = cp._ChildInbox(Conn())
    order: list[str] = []
    at = [0, None]  # the trajectory's evaluation now, and when the user's request was served

    def busy(seconds):
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            pass

    def fake_render(req, ctx, pause=None):
        order.append(req.KIND + ("!" if req.generation < 0 else ""))
        if req.generation < 0:
            at[1] = at[0]
        if req.KIND == "field":
            return req.generation
        for i in range(50):  # 50 field evaluations of 5 ms each
            if "field" not in inbox.pending:  # the window asks for the next arrows at once
                inbox.pending["field"] = FieldRequest(100 + i, EM, None, 0.5, BOUNDS)
            if i == 25:  # a user moves a slider: urgent, served at once
                inbox.pending["field"] = FieldRequest(-1, EM, None, 0.5, BOUNDS)
                inbox.urgent.add("field")
            at[0] = i
            pause()
            busy(0.005)
        return "done"

    monkeypatch.setattr(cp, "render", fake_render)
    inbox.pending["field"] = FieldRequest(1, EM, None, 0.5, BOUNDS)
    cp._serve(None, inbox, TrajectoryRequest(1, EM, None, n=10, steps=2), urgent=False)
    assert Conn.sent[-1][:2] == ("ok", "trajectory")  # it finished
    background = order.count("field")
    assert 1 <= background <= 12  # unfair: 49 (one per evaluation); fair: ~250 ms / 100 ms
    assert at[1] == 25  # the user's request: at the first pause after it came


def test_background_work_that_has_waited_goes_before_newer_background_work():
    """A field request pending at almost any time (the arrows while t plays) must not keep a
    background trajectory from starting: after FAIR_WAIT_S it goes first; a user's request
    still goes before both."""
    from flowscope.train import compute_process as cp

    inbox = cp._ChildInbox(None)
    now = time.perf_counter()
    inbox.pending["trajectory"] = TrajectoryRequest(1, EM, None, n=10, steps=2)
    inbox.pending["field"] = FieldRequest(1, EM, None, 0.5, BOUNDS)
    inbox.since.update(trajectory=now - 0.2, field=now)
    assert inbox.next_kind() == "field"  # PRIORITY: the arrows first
    inbox.since["trajectory"] = now - cp.FAIR_WAIT_S - 0.1
    assert inbox.next_kind() == "trajectory"  # it has waited long enough
    inbox.urgent.add("field")
    assert inbox.next_kind() == "field"  # a user's request before any background work
    req, urgent = inbox.take("trajectory")
    assert urgent is False and "trajectory" not in inbox.since


def test_the_rest_after_background_work_is_by_its_cpu_time():
    from flowscope.train.compute_process import rest_after

    # the arrows (no pause points): 20 ms of CPU in 20 ms -> rest 80 ms at a fifth of a core
    assert rest_after(0.020, 0.020, 0.2) == pytest.approx(0.080)
    # a learned trajectory that paced itself: 3 s of CPU over 15 s -> no rest (it was 60 s)
    assert rest_after(3.0, 15.0, 0.2) == 0.0
    # work slowed by other programs (10 ms of CPU over 30 ms) rests for its CPU share only
    assert rest_after(0.010, 0.030, 0.2) == pytest.approx(0.020)
