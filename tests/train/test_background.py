"""The threads that start and reap training children for the GUI thread: a start never waits
behind a slow reap, idle threads are reused, and none holds up the interpreter's exit."""

import threading

from flowscope.train.process_session import Background


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "flowscope-trainer-bg"}


def test_a_job_runs_beside_a_blocked_one_and_idle_threads_are_reused():
    bg = Background()
    before = _threads()
    release, done = threading.Event(), []
    second_ran = threading.Event()
    bg.submit(release.wait, 30.0)  # a reap waiting for a child still importing torch
    bg.submit(lambda: (done.append("start"), second_ran.set()))
    assert second_ran.wait(30.0) and done == ["start"]  # it did not queue behind the first
    release.set()
    mine = _threads() - before
    assert len(mine) == 2 and all(t.daemon for t in mine)
    finished = threading.Event()
    # both threads go idle; the next jobs reuse them (no third thread)
    for _ in range(1200):  # wait (up to a minute on a loaded machine) until both are idle
        with bg._lock:
            if bg._idle == 2:
                break
        finished.wait(0.05)
    bg.submit(finished.set)
    assert finished.wait(30.0)
    assert _threads() - before == mine


def test_a_failing_job_does_not_end_its_thread():
    bg = Background()
    ran = threading.Event()
    bg.submit(lambda: 1 / 0)
    bg.submit(ran.set)
    assert ran.wait(30.0)
