"""Spread the repaints of one update over turns of the event loop.

Qt repaints every view that a turn of the event loop changed in the next turn, one after the
other, and answers no input and runs no timer until the last one is done. A new target changes
the canvas and both explorer plots (new axes, new heatmaps), and every frame changes both
explorer plots: 30-60 ms of painting in one stretch on the 2-core CPU (bench/gui_latency.py).
Holding one view's repaint for a turn lets input and timers run between the paints; the held
view follows a few milliseconds later, which no one can see.

Every heavy view holds itself when it changes (both explorer plots, the canvas on a new target or
heatmap), not only the second of a pair: Qt repaints all of a window's changed views in one pass,
so a view changed in the turn another one is released repaints in the same pass as that one (a
frame's ODE plot with the released SDE plot: 40-60 ms in one stretch).

Work that a repaint would otherwise do can go first, in a turn of its own (:func:`run_first`):
the explorer draws its new axes' pictures before its plots repaint (ui/cached_axis.py), so a new
range costs two short turns instead of one long one.

A widget is repainted as it is released, in the release's turn: Qt repaints a widget that was
marked dirty before its updates were disabled, so a widget released in one turn (marked dirty)
and held again before its repaint (a change queued in between) would repaint anyway, with the
new change and its cost, in the same pass as whatever else came.

Qt runs every timer that is due in one pass of its event loop, and input waits for the pass
to end: a frame's work and a view's release, due together, ran back to back (5 + 11 ms of the
GUI thread, and on 2 busy cores twice that in wall time). So a release waits for a pass in which
no heavy work ran yet (:func:`heavy_work_done` says so; a release is heavy work itself), at most
:data:`MAX_WAITS` times in a row.

A held widget must not be grabbed (``QWidget.grab`` of a widget whose updates are disabled draws
an incomplete picture): whatever grabs the window calls :func:`release_held` first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QAbstractEventDispatcher, QTimer
from PySide6.QtWidgets import QWidget

__all__ = [
    "HOLD_MS",
    "MAX_WAITS",
    "heavy_work_done",
    "hold_paint",
    "held",
    "release_held",
    "run_first",
]

#: a timer of 1 ms fires in a later turn than the paints already due
HOLD_MS = 1

#: a release waits at most this many times in a row for a pass without heavy work (each wait
#: is a timer of HOLD_MS: a view is never held much longer)
MAX_WAITS = 3

#: the held widgets (and work to run first), in the order they are released: one per turn
_queue: deque[QWidget | Callable[[], object]] = deque()
_timer_due = False
#: heavy work ran in this pass of the event loop (reset when the loop blocks or wakes)
_heavy_in_pass = False
_waits = 0
#: the GUI thread's event dispatcher, once its passes are watched (kept: its signals are used)
_dispatcher: QAbstractEventDispatcher | None = None


def heavy_work_done() -> None:
    """This pass of the event loop did heavy work (a frame, a repaint): a held view's release
    due in the same pass waits for the next one."""
    global _heavy_in_pass
    _watch_passes()
    _heavy_in_pass = True


def _watch_passes() -> None:
    global _dispatcher
    if _dispatcher is not None:
        return
    d = QAbstractEventDispatcher.instance()
    if d is None:
        return  # no event loop here yet: releases go at once (MAX_WAITS bounds them anyway)
    d.aboutToBlock.connect(_new_pass)
    d.awake.connect(_new_pass)
    _dispatcher = d


def _new_pass() -> None:
    global _heavy_in_pass
    _heavy_in_pass = False


def hold_paint(widget: QWidget) -> None:
    """Let ``widget`` repaint a turn later than the views changed in this turn that are not
    held; widgets held in one turn repaint in later turns one by one, in the order held."""
    if any(w is widget for w in _queue) or not widget.updatesEnabled():
        return  # held already, or disabled by someone else: not ours to re-enable
    widget.setUpdatesEnabled(False)
    _queue.append(widget)
    _schedule()


def run_first(work: Callable[[], object]) -> None:
    """Run ``work`` in the next turn, before the repaints held now (in a turn of its own)."""
    _queue.appendleft(work)
    _schedule()


def _schedule() -> None:
    global _timer_due
    _watch_passes()
    if not _timer_due:
        _timer_due = True
        QTimer.singleShot(HOLD_MS, _release_next)


def _release_next() -> None:
    global _timer_due, _waits, _heavy_in_pass
    _timer_due = False
    if _heavy_in_pass and _queue and _waits < MAX_WAITS:
        _waits += 1  # this pass did heavy work already: the next one
        _schedule()
        return
    _waits = 0
    while _queue:
        if _enable(_queue.popleft()):
            _heavy_in_pass = True
            break  # one per turn (one whose window is gone does not count)
    if _queue:
        _schedule()


def _enable(item: QWidget | Callable[[], object]) -> bool:
    """Release a held widget, or run work queued by run_first; False if its window is gone."""
    try:
        if isinstance(item, QWidget):
            item.setUpdatesEnabled(True)
            item.repaint()  # now, in this turn (the module docstring says why)
        else:
            item()
    except RuntimeError:  # its C++ object is gone (the window closed)
        return False
    return True


def held() -> list[QWidget]:
    """The widgets whose repaint waits now (tests)."""
    return [w for w in _queue if isinstance(w, QWidget)]


def release_held() -> None:
    """Release every held widget now (before a grab: it must draw what is current)."""
    while _queue:
        _enable(_queue.popleft())
