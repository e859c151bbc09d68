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

A held widget must not be grabbed (``QWidget.grab`` of a widget whose updates are disabled draws
an incomplete picture): whatever grabs the window calls :func:`release_held` first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

__all__ = ["HOLD_MS", "hold_paint", "held", "release_held", "run_first"]

#: a timer of 1 ms fires in a later turn than the paints already due
HOLD_MS = 1

#: the held widgets (and work to run first), in the order they are released: one per turn
_queue: deque[QWidget | Callable[[], object]] = deque()
_timer_due = False


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
    if not _timer_due:
        _timer_due = True
        QTimer.singleShot(HOLD_MS, _release_next)


def _release_next() -> None:
    global _timer_due
    _timer_due = False
    while _queue:
        if _enable(_queue.popleft()):
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
