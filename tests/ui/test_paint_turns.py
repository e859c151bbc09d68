"""paint_turns: the views changed in one turn repaint in separate turns of the event loop, so
input and timers run between them (bench/gui_latency.py measured the gaps)."""

from __future__ import annotations

import numpy as np
import pytest
import shiboken6
from PySide6 import QtCore, QtWidgets
from PySide6.QtWidgets import QWidget

from flowscope.ui.explorer import ExplorerView
from flowscope.ui.paint_turns import held, hold_paint, release_held

pytestmark = pytest.mark.gui


class _PaintLog(QtCore.QObject):
    """Records ('paint', name) for paint events of watched widgets and ('turn',) each time a
    zero-interval timer fires (once per turn of the event loop that reaches the timers)."""

    def __init__(self):
        super().__init__()
        self.log: list[tuple] = []
        self.timer = QtCore.QTimer(self, interval=0)
        self.timer.timeout.connect(lambda: self.log.append(("turn",)))
        self.names: dict[int, str] = {}

    def watch(self, widget: QWidget, name: str) -> None:
        self.names[id(widget)] = name
        widget.installEventFilter(self)

    def eventFilter(self, obj, ev):  # noqa: N802 - Qt override
        if ev.type() == QtCore.QEvent.Type.Paint and id(obj) in self.names:
            self.log.append(("paint", self.names[id(obj)]))
        return False

    def paints(self, name: str) -> list[int]:
        return [i for i, e in enumerate(self.log) if e == ("paint", name)]


@pytest.fixture
def view(qtbot):
    v = ExplorerView(use_gl=False)
    qtbot.addWidget(v)
    v.resize(800, 400)
    v.show()
    qtbot.waitExposed(v)
    v.set_bounds((-3, 3, -3, 3))
    qtbot.waitUntil(lambda: not held())
    return v


def test_a_frame_paints_the_two_plots_in_separate_turns(view, qtbot):
    """New particles on both plots (what every frame does): the ODE plot paints first, the SDE
    plot in a later turn, with the event loop's timers run in between."""
    ode, sde = (w.viewport() for w in view.widgets())
    rec = _PaintLog()
    rec.watch(ode, "ode")
    rec.watch(sde, "sde")
    rng = np.random.default_rng(0)
    view.set_particles("both", rng.normal(size=(500, 2)).astype(np.float32))
    assert held() == list(view.widgets())  # both wait their turn, the ODE plot first
    rec.timer.start()
    qtbot.waitUntil(lambda: bool(rec.paints("ode") and rec.paints("sde")))
    first_ode, first_sde = rec.paints("ode")[0], rec.paints("sde")[0]
    assert first_ode < first_sde
    assert ("turn",) in rec.log[first_ode:first_sde], rec.log  # input/timers ran between
    assert not held()


def test_a_plot_changed_as_the_other_is_released_paints_in_a_turn_of_its_own(
    view, qtbot, monkeypatch
):
    """A frame gives the ODE plot new particles in the very turn the SDE plot is released:
    Qt repaints every changed view of a window in one pass, so the ODE plot must wait a turn
    too (it did not: both repainted in one 40-60 ms stretch, bench/gui_latency.py)."""
    from flowscope.ui import paint_turns

    ode_view, sde_view = view.widgets()
    rec = _PaintLog()
    rec.watch(ode_view.viewport(), "ode")
    rec.watch(sde_view.viewport(), "sde")
    rng = np.random.default_rng(1)
    enable = paint_turns._enable

    def enable_then_frame(widget):
        if widget is sde_view:
            rec.log.append(("released",))  # paints before this were owed by the set-up
        released = enable(widget)  # repaints it now
        if widget is sde_view:
            view.set_particles("ode", rng.normal(size=(500, 2)).astype(np.float32))
        return released

    monkeypatch.setattr(paint_turns, "_enable", enable_then_frame)
    view.set_particles("sde", rng.normal(size=(500, 2)).astype(np.float32))
    rec.timer.start()

    def after_release(name: str) -> list[int]:
        start = rec.log.index(("released",)) if ("released",) in rec.log else len(rec.log)
        return [i for i in rec.paints(name) if i > start]

    qtbot.waitUntil(lambda: bool(after_release("ode") and after_release("sde")))
    first_sde, first_ode = after_release("sde")[0], after_release("ode")[0]
    assert first_sde < first_ode
    assert ("turn",) in rec.log[first_sde:first_ode], rec.log


def test_a_plot_changed_right_after_its_release_waits_a_turn_for_that_change(
    view, qtbot, monkeypatch
):
    """The ODE plot is released, and a change queued before the next pass (the new target's
    range, a frame's particles) holds it again: Qt would still repaint it in that pass, with
    the change, since it was dirty before it was held (a 19 ms paint beside the action in one
    stretch). The release repaints it at once, so the change waits its own turn."""
    from PySide6.QtCore import QTimer

    from flowscope.ui import paint_turns

    ode_view, _ = view.widgets()
    rec = _PaintLog()
    rec.watch(ode_view.viewport(), "ode")
    rng = np.random.default_rng(2)
    enable = paint_turns._enable
    done = []

    def change_ode():
        rec.log.append(("changed",))
        view.set_particles("ode", rng.normal(size=(500, 2)).astype(np.float32))
        done.append(True)

    def enable_then_queue_a_change(widget):
        released = enable(widget)
        if widget is ode_view and not done:
            QTimer.singleShot(0, change_ode)  # posted: it runs before the next pass's paints
        return released

    monkeypatch.setattr(paint_turns, "_enable", enable_then_queue_a_change)
    view.set_particles("ode", rng.normal(size=(500, 2)).astype(np.float32))
    rec.timer.start()
    qtbot.waitUntil(lambda: bool(done) and bool(_paints_after(rec, ("changed",), "ode")))
    changed = rec.log.index(("changed",))
    first = _paints_after(rec, ("changed",), "ode")[0]
    assert ("turn",) in rec.log[changed:first], rec.log  # its repaint came a turn later


def _paints_after(rec, marker, name: str) -> list[int]:
    start = rec.log.index(marker) if marker in rec.log else len(rec.log)
    return [i for i in rec.paints(name) if i > start]


def test_the_colour_bar_repaints_new_levels_in_a_turn_of_its_own(view, qtbot):
    """New heatmaps with new levels (a new target, every learned frame): the colour bar's
    new tick labels repaint in a turn after the plots', not in the pass of the last plot
    released (a new target's longest gap had the SDE plot and the bar: bench/gui_latency.py)."""
    ode_view, sde_view = view.widgets()
    strip = view.scale_strip
    rec = _PaintLog()
    rec.watch(ode_view.viewport(), "ode")
    rec.watch(sde_view.viewport(), "sde")
    rec.watch(strip.viewport(), "bar")
    bounds = (-3.0, 3.0, -3.0, 3.0)
    for peak in (1.0, 7.0):  # the second image needs new levels: the bar changes
        qtbot.waitUntil(lambda: not held())
        QtWidgets.QApplication.processEvents()  # the repaints owed by the last release
        rec.log.clear()
        img = np.outer(np.hanning(32), np.hanning(32)) * peak
        view.set_density("both", img, bounds)
    assert held() == [ode_view, sde_view, strip]  # the bar waits its turn, after the plots
    assert strip.levels[1] == pytest.approx(7.0, rel=0.05)
    rec.timer.start()
    qtbot.waitUntil(lambda: bool(rec.paints("bar") and rec.paints("sde")))
    last_plot = max(rec.paints("ode")[0], rec.paints("sde")[0])
    first_bar = rec.paints("bar")[0]
    assert last_plot < first_bar, rec.log
    assert ("turn",) in rec.log[last_plot:first_bar], rec.log


def test_held_widgets_are_released_one_per_turn_in_order(qtbot):
    a, b = QWidget(), QWidget()
    for w in (a, b):
        qtbot.addWidget(w)
    hold_paint(a)
    hold_paint(b)
    hold_paint(a)  # held already: not queued twice
    assert held() == [a, b]
    assert not a.updatesEnabled() and not b.updatesEnabled()
    seen = []  # (a enabled, b enabled) at each turn of the event loop that runs timers
    turns = QtCore.QTimer(interval=0)
    turns.timeout.connect(lambda: seen.append((a.updatesEnabled(), b.updatesEnabled())))
    turns.start()
    qtbot.waitUntil(lambda: b.updatesEnabled())
    turns.stop()
    assert (True, False) in seen, seen  # a turn with a released and b still waiting
    assert (False, True) not in seen
    assert not held()


def test_a_widget_deleted_while_held_does_not_stop_the_others(qtbot):
    a, b = QWidget(), QWidget()
    qtbot.addWidget(b)
    hold_paint(a)
    hold_paint(b)
    shiboken6.delete(a)  # the window closed under it
    qtbot.waitUntil(lambda: b.updatesEnabled())
    assert not held()


def test_a_widget_disabled_by_its_owner_stays_disabled(qtbot):
    w = QWidget()
    qtbot.addWidget(w)
    w.setUpdatesEnabled(False)  # someone else's reason (a batch update, a closing window)
    hold_paint(w)
    assert held() == []
    qtbot.wait(20)
    assert not w.updatesEnabled()


def test_release_held_enables_everything_at_once(qtbot):
    ws = [QWidget() for _ in range(3)]
    for w in ws:
        qtbot.addWidget(w)
        hold_paint(w)
    release_held()
    assert all(w.updatesEnabled() for w in ws) and not held()
    qtbot.wait(10)  # the pending release timer finds nothing left to do
    assert all(w.updatesEnabled() for w in ws)


def test_a_screenshot_releases_the_held_plot_first(view, qtbot):
    """Scripted mode's grab draws the SDE plot as it is now, even mid-hold."""
    from flowscope.ui.scripted import grab_window

    view.set_particles("both", np.zeros((10, 2), np.float32))
    assert held()
    img = grab_window(view)
    assert not held() and not img.isNull()


def test_work_run_first_goes_before_the_held_repaints_in_a_turn_of_its_own(qtbot):
    """run_first: the explorer's axis pictures are drawn in a turn before its plots repaint."""
    from flowscope.ui.paint_turns import run_first

    a = QWidget()
    qtbot.addWidget(a)
    hold_paint(a)
    seen: list[str] = []  # what each turn of the event loop that runs timers found
    run_first(lambda: seen.append("work"))
    assert held() == [a]  # the work is not a held widget
    turns = QtCore.QTimer(interval=0)
    turns.timeout.connect(lambda: seen.append("released" if a.updatesEnabled() else "turn"))
    turns.start()
    qtbot.waitUntil(lambda: a.updatesEnabled())
    turns.stop()
    assert "work" in seen and "turn" in seen[seen.index("work") :], seen  # a waited a turn
    assert "released" not in seen[: seen.index("work")]


def test_a_new_range_draws_the_axes_before_the_plots_repaint(view, qtbot, monkeypatch):
    """set_bounds to a box not seen before: its axis pictures are drawn in a turn of their
    own, and neither plot's repaint draws any (each found them ready): a new target's first
    plot repaint was a 25 ms turn with two new axes in it (bench/gui_latency.py)."""
    from flowscope.ui.cached_axis import SHARED

    ode_view, sde_view = view.widgets()
    rec = _PaintLog()
    rec.watch(ode_view.viewport(), "ode")
    rec.watch(sde_view.viewport(), "sde")
    prepare = view._prepare_axes

    def logged_prepare():
        prepare()
        rec.log.append(("axes", SHARED.misses))

    monkeypatch.setattr(view, "_prepare_axes", logged_prepare)
    QtWidgets.QApplication.processEvents()  # the set-up's owed repaints
    rec.log.clear()
    misses = SHARED.misses
    view.set_bounds((-7.25, 7.25, -7.25, 7.25))
    rec.timer.start()
    qtbot.waitUntil(lambda: not held() and bool(rec.paints("ode") and rec.paints("sde")))
    QtWidgets.QApplication.processEvents()
    axes = [i for i, e in enumerate(rec.log) if e[0] == "axes"]
    assert len(axes) == 1, rec.log
    drawn = rec.log[axes[0]][1]
    assert drawn > misses  # the new box's pictures were drawn there
    first_paint = min(rec.paints("ode")[0], rec.paints("sde")[0])
    assert axes[0] < first_paint and ("turn",) in rec.log[axes[0] : first_paint], rec.log
    assert SHARED.misses == drawn  # the plots' repaints drew no axis of their own


def test_the_training_curves_repaint_in_turns_of_their_own(qtbot):
    """The loss and quality curves change with every training report and with a new target;
    each repaints in a turn of its own, not in the pass of an explorer plot (a new target's
    loss curve repainted with the SDE plot: a 52 ms gap)."""
    from flowscope.ui.curves import CurvesPanel

    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: not held())
    panel.set_loss(np.arange(1.0, 101.0), np.linspace(2.0, 1.0, 100), floor=0.5)
    assert held() == [panel.loss_plot]
    panel.set_quality([10, 20], [0.3, 0.2])
    assert held() == [panel.loss_plot, panel.quality_plot]
    qtbot.waitUntil(lambda: not held())
    assert panel.loss_plot.updatesEnabled() and panel.quality_plot.updatesEnabled()


def test_a_release_waits_for_a_pass_of_the_event_loop_without_heavy_work(qtbot):
    """Qt runs every timer that is due in one pass of its event loop, and input waits for the
    pass to end. A frame's work and a held view's release due in the same pass: the release goes
    in a later pass, so what came in between is answered first."""
    import time

    from flowscope.ui import paint_turns

    w = QWidget()
    qtbot.addWidget(w)
    w.resize(120, 80)
    w.show()
    qtbot.waitExposed(w)
    log: list[str] = []

    class Paints(QtCore.QObject):
        def eventFilter(self, obj, ev):  # noqa: N802 - Qt override
            if ev.type() == QtCore.QEvent.Type.Paint:
                log.append("paint")
            return False

    paints = Paints()
    w.installEventFilter(paints)
    dispatcher = QtCore.QAbstractEventDispatcher.instance()

    def new_pass():
        log.append("pass")

    def heavy():
        paint_turns.heavy_work_done()
        log.append("heavy")

    def both_due_in_one_pass():
        QtCore.QTimer.singleShot(1, heavy)  # due first
        hold_paint(w)  # its release is due right after
        w.update()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.005:
            pass  # both are overdue when the next pass begins: Qt runs them in that one

    dispatcher.awake.connect(new_pass)
    dispatcher.aboutToBlock.connect(new_pass)
    try:
        QtCore.QTimer.singleShot(0, both_due_in_one_pass)
        qtbot.waitUntil(lambda: "heavy" in log and "paint" in log[log.index("heavy") :])
    finally:
        dispatcher.awake.disconnect(new_pass)
        dispatcher.aboutToBlock.disconnect(new_pass)
    after = log[log.index("heavy") :]
    assert "pass" in after[: after.index("paint")]
    assert not held()
