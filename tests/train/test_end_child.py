"""end_child: a training or compute child ends as soon as its last message is sent, without
Python's teardown (0.7-1.8 s of torch module clean-up that a closing window waited for), and
what it put in its queue still arrives."""

from __future__ import annotations

import atexit
import multiprocessing as mp
import time

from flowscope.train.trainer_worker import end_child


def _child(out_q, mark: str) -> None:
    atexit.register(lambda: open(mark, "w").close())  # runs only in Python's own teardown
    out_q.put("bye")  # through the queue's feeder thread: flushed by end_child
    end_child()
    out_q.put("not reached")


def test_a_child_ends_at_once_and_its_queue_is_flushed(tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    mark = tmp_path / "teardown-ran"
    p = ctx.Process(target=_child, args=(q, str(mark)), daemon=True)
    p.start()
    try:
        assert q.get(timeout=120) == "bye"
        p.join(120)
        assert p.exitcode == 0
        assert not mark.exists()  # os._exit: no interpreter teardown
        time.sleep(0.05)
        assert q.empty()  # nothing after end_child ran
    finally:
        if p.is_alive():
            p.kill()


def test_outside_a_child_it_does_nothing():
    end_child()  # the test process goes on
    assert mp.parent_process() is None
