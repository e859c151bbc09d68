"""The window on laptop screens (issue 11, item 4): at 1280 x 720 and above every control is
usable and nothing is clipped; the control column scrolls instead of pushing the time bar off
the screen; the two explorer plots stay the same size."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, QRect  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QScrollArea,
)

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

CONTROLS = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox)


def _in_scroll_area(w) -> bool:
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, QScrollArea):
            return True
        p = p.parentWidget()
    return False


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1600, 1000)])
def test_every_control_is_reachable_and_unclipped(qtbot, tmp_path, monkeypatch, size):
    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    win = MainWindow(AppState(target_source="two_moons", playing=False), ask_to_save=False)
    qtbot.addWidget(win)
    try:
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        # the window can be as small as the screen: its minimum fits a 720-px laptop
        assert win.minimumSizeHint().height() <= 720 and win.minimumSizeHint().width() <= 1280
        assert (win.width(), win.height()) == size
        central = win.centralWidget()
        visible_area = QRect(QPoint(0, 0), central.size())
        clipped = []
        controls = [w for kind in CONTROLS for w in central.findChildren(kind)]
        for w in controls:
            if not w.isVisibleTo(win) or w.width() == 0 or _in_scroll_area(w):
                continue  # controls in the scrolling column are reached by scrolling
            top_left = w.mapTo(central, QPoint(0, 0))
            if not visible_area.contains(QRect(top_left, w.size())):
                clipped.append(type(w).__name__)
        assert not clipped, clipped
        # inside the scrolling column nothing is squeezed below its minimum
        content = win.control_scroll.widget()
        # (a few px of slack: word-wrapped labels give a width-dependent minimum)
        assert content.height() >= content.minimumSizeHint().height() - 4
        viewport = win.control_scroll.viewport()
        # the column's width settles once the scroll bar has appeared (one layout pass)
        qtbot.waitUntil(lambda: content.width() <= viewport.width(), timeout=5000)
        assert win.t_slider.width() >= 150  # a long status line squeezed it to 0 at 1024 px
        ode, sde = win.explorer.widgets()
        assert abs(ode.width() - sde.width()) <= 2 and abs(ode.height() - sde.height()) <= 2
        assert ode.width() >= 200
    finally:
        win.shutdown()


def test_image_window_opens_within_the_screen(qtbot, monkeypatch):
    """Image mode opened at 1480 x 900 on any screen: on a laptop its right column, status bar
    and trajectory strip were off the screen. Now it opens shrunk to the available area, with
    every control inside the window."""
    from flowscope.state import ImageState
    from flowscope.ui.image_window import ImageWindow

    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    win = ImageWindow(ImageState(channels=8), ask_to_save=False)
    qtbot.addWidget(win)
    try:
        win.show()
        qtbot.waitExposed(win)
        avail = win.screen().availableGeometry()
        assert win.width() <= avail.width() and win.height() <= avail.height()
        assert avail.width() < 1480 or win.width() == 1480  # shrunk only where it must be
        central = win.centralWidget()
        visible_area = QRect(QPoint(0, 0), central.size())
        clipped = [
            type(w).__name__
            for kind in CONTROLS
            for w in central.findChildren(kind)
            if w.isVisibleTo(win)
            and w.width() > 0
            and not visible_area.contains(QRect(w.mapTo(central, QPoint(0, 0)), w.size()))
        ]
        assert not clipped, clipped
    finally:
        win.shutdown()
