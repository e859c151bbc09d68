"""Stale views under load (issue 11, item 5): a control change is urgent on the compute side,
a result computed with older settings is never taken for current, and the view says
"computing…" while what it shows is older than the settings."""

import threading
from dataclasses import dataclass

import pytest

pytest.importorskip("PySide6")

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.controllers import RequestChannel  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


@dataclass(frozen=True)
class _Req:
    KIND = "trajectory"
    generation: int


@dataclass(frozen=True)
class _Res:
    generation: int


class _Worker:
    def __init__(self):
        self.submitted: list[tuple[int, bool]] = []
        self.ready: dict = {}
        self.last_error = None

    def submit(self, req, urgent=False):
        self.submitted.append((req.generation, urgent))

    def take(self, kind):
        return self.ready.pop(kind, None)


def test_the_channel_knows_when_the_view_is_behind_the_settings(qapp):
    w = _Worker()
    ch = RequestChannel(w, ("trajectory",))
    ch.submit("trajectory", _Req)  # background work before any control asked: not urgent
    assert w.submitted == [(1, False)] and not ch.behind("trajectory")
    w.submitted.clear()
    ch = RequestChannel(w, ("trajectory",))
    ch.submit("trajectory", _Req, settings=True)  # startup: nothing shown yet
    w.ready["trajectory"] = _Res(1)
    ch.poll()
    assert not ch.behind("trajectory")
    ch.submit("trajectory", _Req)  # a background refresh with the same settings
    assert w.submitted[-1] == (2, False) and not ch.behind("trajectory")
    ch.submit("trajectory", _Req, settings=True)  # a control changed
    assert w.submitted[-1] == (3, True) and ch.behind("trajectory")
    assert ch.settings_generation("trajectory") == 3
    ch.submit("trajectory", _Req)  # a refresh while behind carries the new settings: urgent
    assert w.submitted[-1] == (4, True)
    w.ready["trajectory"] = _Res(2)  # a late answer computed with the old settings
    ch.poll()
    assert ch.shown("trajectory") == 2 and ch.behind("trajectory")  # shown, not as current
    w.ready["trajectory"] = _Res(3)
    ch.poll()
    assert not ch.behind("trajectory")
    ch.submit("trajectory", _Req)
    assert w.submitted[-1] == (5, False)  # current again: background work is background


@pytest.fixture
def gated_win(qtbot, tmp_path, monkeypatch):
    """A window whose compute worker (a thread here) computes only while ``gate`` is set."""
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_COMPUTE_PROCESS", "0")
    state = AppState(target_source="gaussian", n_particles=400, steps=10, playing=False)
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    gate = threading.Event()
    gate.set()
    compute = w.worker.compute_now

    def gated(req, pause=None):
        gate.wait(120)
        return compute(req, pause)

    w.worker.compute_now = gated
    w.show()
    yield w, gate
    gate.set()
    w.shutdown()


def test_a_setting_change_says_computing_until_its_particles_are_shown(gated_win, qtbot):
    win, gate = gated_win
    ctl, explorer = win.view, win.explorer
    qtbot.waitUntil(lambda: win.traj is not None and not ctl.computing, timeout=120_000)
    qtbot.waitUntil(lambda: not explorer.computing_shown(), timeout=10_000)
    old = win.traj
    gate.clear()  # the compute side is busy elsewhere (a loaded laptop)
    win.sampling_panel.w.setValue(2.5)  # the user moves the guidance slider
    assert win.state.w == 2.5
    gen = win.requests.settings_generation("trajectory")
    assert gen > old.generation and ctl.computing
    qtbot.waitUntil(explorer.computing_shown, timeout=10_000)  # the next frame says so
    assert len(explorer._hints) == 2  # one tag per plot, both shown
    assert all(h.box.isVisible() and h.text.text() == "computing…" for h in explorer._hints)
    assert win.traj is old  # nothing computed with the new w exists yet
    gate.set()
    qtbot.waitUntil(lambda: not explorer.computing_shown(), timeout=120_000)
    assert win.traj.generation >= gen  # the particles shown carry the new settings
    assert not any(h.box.isVisible() for h in explorer._hints)
    assert not win.worker.urgent("trajectory")  # answered: the trainer trains on
