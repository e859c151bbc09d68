"""Training in a child process behind the TrainingSession interface (what the GUI uses)."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig
from flowscope.train.process_session import ProcessTrainingSession, wait_ready

BLOBS = ExactMarginal(torch.tensor([[-1.5, 0.0], [1.5, 0.5]]), widths=0.3)


# Waits bound a hang only: the child's start-up (a torch import, seconds on a loaded machine)
# is part of every first wait, so no test here measures it against a budget.
READY_S = 120.0


def _until(fn, timeout=READY_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.02)
    return False


def test_train_pause_step_swap_restore_and_stop():
    s = ProcessTrainingSession(
        BLOBS,
        ModelConfig(width=32, depth=2),
        TrainConfig(steps=None, batch_size=64, device="cpu", snapshot_hz=20.0),
    )
    try:
        s.start()
        assert wait_ready(s, READY_S)
        assert _until(lambda: s.step_count > 20 and s.latest_snapshot is not None)
        assert s.running and len(s.history.losses) > 0
        assert s.trainer.device.type == "cpu"
        s.pause()
        time.sleep(0.3)
        frozen = s.step_count
        time.sleep(0.4)
        assert s.step_count == frozen and not s.running
        s.step_once(5)
        assert s.step_count == frozen + 5
        assert s.history.steps[-1] == s.step_count  # the history came back with the snapshot
        s.set_target(ExactMarginal(torch.tensor([[5.0, 5.0]]), widths=0.1))
        s.step_once(1)
        assert _until(lambda: s.trainer.target_version == 1)
        weights = {k: torch.zeros_like(v) for k, v in s.latest_snapshot.state_dict.items()}
        s.load_weights(weights, step=1000)
        assert _until(lambda: s.step_count == 1000)
        assert all(torch.all(v == 0) for v in s.latest_snapshot.state_dict.values())
    finally:
        t0 = time.perf_counter()
        assert s.stop(timeout=5.0)
        assert time.perf_counter() - t0 < 5.0 and not s.alive()


def test_child_errors_come_back_as_a_message():
    s = ProcessTrainingSession(BLOBS, ModelConfig(dim=3), TrainConfig(steps=None))
    s.start()
    assert _until(lambda: s.trainer.error is not None)
    assert "dim" in s.trainer.error
    assert not s.running
    s.stop()


def test_snapshot_is_a_working_model():
    s = ProcessTrainingSession(
        BLOBS, ModelConfig(width=32, depth=2), TrainConfig(steps=None, batch_size=64, device="cpu")
    )
    try:
        s.step_once(10, timeout=READY_S)  # the first command waits for the child to start
        snap = s.latest_snapshot
        assert snap is not None and snap.step == 10
        x = snap.to_model().sample(20, steps=5, seed=0)
        assert x.shape == (20, 2) and torch.isfinite(x).all()
    finally:
        s.stop()


@pytest.mark.parametrize("n", [0])
def test_stop_before_start_is_harmless(n):
    s = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), TrainConfig(steps=None))
    assert s.stop() and not s.alive() and s.step_count == n


def test_what_goes_to_the_child_is_copied_not_moved_to_shared_memory():
    """multiprocessing's pickler moves tensors into shared memory in place, from a feeder
    thread: the window's live tensors (the target's mixture, weights being opened) changed under
    its feet. Everything is sent by value now."""
    from flowscope.core.models import build_model

    em = ExactMarginal(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), widths=0.3)
    mc = ModelConfig(width=16, depth=1)
    s = ProcessTrainingSession(em, mc, TrainConfig(steps=None, batch_size=32, num_threads=1))
    weights = build_model(mc).state_dict()
    s.load_weights(weights, step=3)
    s.set_target(ExactMarginal(torch.tensor([[2.0, 2.0]]), widths=0.2))
    try:
        assert wait_ready(s, READY_S)
        assert _until(lambda: s.latest_snapshot is not None and s.step_count == 3)
        assert s.latest_snapshot is not None and s.latest_snapshot.step == 3
        for k, v in s.latest_snapshot.state_dict.items():  # the child got the values
            assert torch.equal(v, weights[k])
        time.sleep(0.3)  # give a feeder thread time to do what it would do
        assert not any(v.is_shared() for v in weights.values())
        assert not em.means.is_shared() and not em.widths.is_shared()
    finally:
        s.stop()


def _gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie left for init to reap counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
@pytest.mark.slow  # a window process killed under a live trainer: ~10-15 s
def test_the_trainer_exits_when_the_window_is_killed():
    """A killed (not closed) window must not leave its trainer burning a core forever."""
    code = (
        "import time, torch\n"
        "from flowscope.core.exact import ExactMarginal\n"
        "from flowscope.core.models import ModelConfig\n"
        "from flowscope.train import TrainConfig\n"
        "from flowscope.train.process_session import ProcessTrainingSession, wait_ready\n"
        "em = ExactMarginal(torch.tensor([[-1.5, 0.0], [1.5, 0.5]]), widths=0.3)\n"
        "s = ProcessTrainingSession(em, ModelConfig(width=16, depth=2), TrainConfig(steps=None))\n"
        "s.start(); wait_ready(s)\n"
        "print(s.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    cmd = [sys.executable, "-c", code]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as window:
        try:
            child = int(window.stdout.readline())
            assert not _gone(child)
            time.sleep(0.5)
            assert not _gone(child)  # training goes on while the window lives
            window.send_signal(signal.SIGKILL)
            window.wait(10)
            assert _until(lambda: _gone(child), timeout=10.0)
        finally:
            window.kill()


def test_the_trainer_yields_while_a_users_request_is_computed():
    """The compute side raises the UserWork flag while it answers a control change; the
    trainer child then waits between its steps (bounded), and trains on when it is lowered."""
    from flowscope.train.priority import UserWork
    from flowscope.train.process_session import POLL_EVERY

    uw = UserWork()
    s = ProcessTrainingSession(
        BLOBS,
        ModelConfig(width=32, depth=2),
        TrainConfig(steps=None, batch_size=64, device="cpu", snapshot_hz=20.0),
        user_work=uw,
    )
    try:
        s.start()
        assert wait_ready(s, READY_S)
        assert _until(lambda: s.step_count > 20)
        uw.raise_(60.0)
        time.sleep(0.5)  # the child looks at the flag every POLL_EVERY steps
        n0 = s.step_count
        time.sleep(1.0)
        during = s.step_count - n0
        uw.lower()
        assert _until(lambda: s.step_count > n0 + during + 10 * POLL_EVERY)
        assert during <= 2 * POLL_EVERY  # at most one batch after a bounded wait
    finally:
        s.stop()


def test_a_new_session_waits_out_the_windows_hold_before_it_trains():
    """A new target or reset: the window holds the trainer while it redraws (a second); the
    child builds and runs the new session's trainer only after the hold, then trains on."""
    from flowscope.train.priority import UserWork

    uw = UserWork()
    cfg = TrainConfig(steps=None, batch_size=64, device="cpu", snapshot_hz=20.0)
    s1 = ProcessTrainingSession(BLOBS, ModelConfig(width=32, depth=2), cfg, user_work=uw)
    s1.step_once(2, timeout=READY_S)  # the child is up (spawned, torch imported)
    s1.stop(wait=False)
    s2 = ProcessTrainingSession(BLOBS, ModelConfig(width=32, depth=2), cfg, user_work=uw)
    try:
        uw.hold_for_window(1.2)
        t0 = time.time()
        s2.start()
        while time.time() - t0 < 0.8:  # well inside the hold: not one step yet
            assert s2.step_count == 0 and not s2.history.losses
            time.sleep(0.05)
        assert _until(lambda: s2.step_count > 20)  # then it trains
    finally:
        s2.stop()


def test_a_new_session_reuses_the_stopped_sessions_process():
    """Reset / a new preset: the next session begins in the same process (no torch import,
    ~2 s of a core saved), with a fresh trainer of its own; the old session hears nothing more."""
    cfg = TrainConfig(steps=None, batch_size=64, device="cpu", snapshot_hz=20.0)
    s1 = ProcessTrainingSession(BLOBS, ModelConfig(width=32, depth=2), cfg)
    s1.step_once(7, timeout=READY_S)
    assert s1.step_count == 7
    s1.start()
    assert _until(lambda: s1.step_count > 30)
    pid = s1.pid
    assert not s1.stop(wait=False)  # the GUI's discard: returns at once
    assert not s1.alive()
    other = ExactMarginal(torch.tensor([[4.0, 4.0]]), widths=0.2)
    s2 = ProcessTrainingSession(other, ModelConfig(width=16, depth=1), cfg)
    try:
        s2.step_once(3, timeout=READY_S)
        assert s2.pid == pid  # the same process, handed over
        assert s2.step_count == 3 and s2.history.steps == [1, 2, 3]  # a fresh trainer
        snap = s2.latest_snapshot
        assert snap.state_dict["net.0.weight"].shape[0] == 16  # the new model's shape
        frozen = (s1.step_count, len(s1.history.losses))
        s2.start()
        assert _until(lambda: s2.step_count > 40)
        assert (s1.step_count, len(s1.history.losses)) == frozen  # nothing routed to s1
    finally:
        assert s2.stop(timeout=10.0) and not s2.alive()


def test_a_dead_idle_process_is_replaced_and_two_sessions_get_two_processes():
    cfg = TrainConfig(steps=None, batch_size=32, device="cpu")
    s1 = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), cfg)
    s1.step_once(1, timeout=READY_S)
    pid = s1.pid
    assert s1.stop(timeout=10.0)
    os.kill(pid, signal.SIGKILL)  # the idle process dies (out of memory, killed by the user)
    # the next session may be handed it before its death is noticed: it begins again elsewhere
    s2 = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), cfg)
    s3 = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), cfg)
    try:
        s2.step_once(2, timeout=READY_S)
        s3.step_once(4, timeout=READY_S)
        assert s2.pid != pid and s3.pid not in (pid, s2.pid)
        assert (s2.step_count, s3.step_count) == (2, 4)
    finally:
        assert s2.stop(timeout=10.0) and s3.stop(timeout=10.0)


def test_a_failed_session_leaves_its_process_usable():
    s1 = ProcessTrainingSession(BLOBS, ModelConfig(dim=3), TrainConfig(steps=None))
    s1.start()
    assert _until(lambda: s1.trainer.error is not None)
    s1.stop()
    s2 = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), TrainConfig(steps=None))
    try:
        s2.step_once(2, timeout=READY_S)
        assert s2.step_count == 2 and s2.trainer.error is None
    finally:
        s2.stop()


class _FakeWorker:
    def __init__(self, key):
        self.key, self.ended = key, False

    def alive(self):
        return not self.ended

    def exit(self):
        self.ended = True

    def reap(self, timeout=None):
        return True


def test_the_pool_keeps_the_newest_idle_worker():
    """A worker of another priority left idle (a window test, a window closed since) must not
    take the one spare place: the next session, of the newest worker's kind, claims it."""
    from flowscope.train.trainer_worker import WorkerPool

    pool = WorkerPool(spare=1)
    old, new = _FakeWorker((5, 1)), _FakeWorker((0, 1))
    pool.release(old)
    pool.release(new)
    assert old.ended and not new.ended  # the older one made room
    assert pool.claim((5, 1)) is None
    assert pool.claim((0, 1)) is new
    assert pool.claim((0, 1)) is None  # handed out once
    pool.release(new)
    pool.release(new)  # released twice: kept once, not ended
    assert not new.ended and pool.claim((0, 1)) is new
    dead = _FakeWorker((0, 1))
    dead.ended = True
    pool.release(dead)
    assert pool.claim((0, 1)) is None  # a dead worker is never kept


def test_a_niced_session_runs_its_child_at_that_priority():
    """ProcessTrainingSession(nice=n): the child runs n above this process (the window keeps its
    own); the pool hands a niced child only to a session of the same priority."""
    cfg = TrainConfig(steps=None, batch_size=32, device="cpu")
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    s = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), cfg, nice=3)
    try:
        s.step_once(1, timeout=READY_S)
        assert os.getpriority(os.PRIO_PROCESS, s.pid) == min(19, mine + 3)
        assert os.getpriority(os.PRIO_PROCESS, 0) == mine
        niced = s.pid
    finally:
        assert s.stop(timeout=10.0)
    plain = ProcessTrainingSession(BLOBS, ModelConfig(width=8, depth=1), cfg)
    try:
        plain.step_once(1, timeout=READY_S)
        assert plain.pid != niced and os.getpriority(os.PRIO_PROCESS, plain.pid) == mine
    finally:
        assert plain.stop(timeout=10.0)
