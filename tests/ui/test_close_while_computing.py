"""Closing a window while its compute thread is in the middle of a long request (issue 10: the
GUI thread never waits). The request is abandoned: the window saves the last session and closes
without waiting for it, and no compute thread is left running in the process (where it would
share the GIL with every later window: on a loaded machine a starved computation made a close
wait minutes)."""

from __future__ import annotations

import time

import pytest
import torch

pytest.importorskip("PySide6")

from flowscope.core.exact import ExactMarginal  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.train.compute import TrajectoryRequest  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

#: 400 components: ~70 ms of CPU per exact field evaluation of 20k particles
BIG = ExactMarginal(torch.randn(400, 2, generator=torch.Generator().manual_seed(0)), widths=0.3)
GEN = 10**6  # a generation the window never asks for: its result would be this request's


def test_closing_while_the_compute_thread_works_abandons_the_request(qtbot, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWSCOPE_HOME", str(home))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")  # the compute side is a thread here
    win = MainWindow(AppState(n_particles=300, steps=10, playing=False), ask_to_save=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    worker = win.worker
    # the window's own first requests are answered (nothing of its own is left to replace ours)
    qtbot.waitUntil(lambda: win.traj is not None and not worker.busy, timeout=120_000)
    # ~600 evaluations of ~70 ms: ~40 s of CPU on a quiet machine if it ran to its end
    req = TrajectoryRequest(GEN, BIG, None, n=20_000, steps=300, sigma=0.5)
    worker.submit(req)
    qtbot.waitUntil(lambda: worker._current == "trajectory", timeout=120_000)
    t0 = time.perf_counter()
    win.close()
    took = time.perf_counter() - t0
    assert not win.isVisible()
    assert worker._thread is not None and not worker._thread.is_alive(), (
        f"the compute thread still runs after the close ({took:.1f} s)"
    )
    res = worker.take("trajectory")
    assert res is None or res.generation != GEN  # abandoned, not finished
    assert (home / "last-session.flowscope").is_file()  # the session was kept for next time
    assert took < 30.0  # prompt (~0.1 s on a quiet machine; it waited 4 s before, then left
    # the thread computing)
