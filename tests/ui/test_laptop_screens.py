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
from flowscope.ui.paint_turns import held  # noqa: E402

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
        if size[1] >= 1000:  # both curves on screen without scrolling (the taller Diagnostics
            # tab, not shown, made the tabs as tall as itself and pushed the quality curve out)
            for plot in (win.curves.loss_plot, win.curves.quality_plot):
                rect = QRect(plot.mapTo(viewport, QPoint(0, 0)), plot.size())
                assert viewport.rect().contains(rect), (rect, viewport.rect())
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


def _in_window(item, win) -> QRect:
    """A graphics item's bounding rect in window coordinates (via its view widget)."""
    view = item.getViewWidget() if hasattr(item, "getViewWidget") else item.scene().views()[0]
    rect = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return QRect(view.mapTo(win, rect.topLeft()), rect.size())


def _widget_in_window(w, win) -> QRect:
    """A widget's rect in window coordinates, one pixel larger each side (the scene rects
    mapped by _in_window round outwards)."""
    return QRect(w.mapTo(win, QPoint(0, 0)), w.size()).adjusted(-1, -1, 1, 1)


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1600, 1000)])
def test_explorer_plots_show_one_range_and_colour_bars_fit(qtbot, monkeypatch, size):
    """The ODE and SDE plots show the same plane (x and y linked, aspect 1) and every colour
    bar lies inside its pane. At 1366 x 768 each plot had its own bar, the SDE plot's longer
    title made its layout wider than its widget: x -4..4 beside -3..3, and the SDE bar was cut
    off at the pane's edge. Tall side-by-side plots showed y -12..12 for data in -3.5..3.5."""
    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    win = MainWindow(AppState(target_source="two_moons", playing=False), ask_to_save=False)
    qtbot.addWidget(win)
    try:
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        explorer = win.explorer
        strip = explorer.scale_strip
        canvas_bar = win.canvas.density_scale.bar
        # the exact p_t and p_data heatmaps come from the compute side: then the bars show
        qtbot.waitUntil(lambda: strip.visible and canvas_bar.isVisible(), timeout=60_000)
        # (layouts settle through posted events after the bar is shown)
        qtbot.waitUntil(lambda: strip.bar.geometry().height() > 100, timeout=5_000)
        (ode, sde), (ode_w, sde_w) = explorer.plots(), explorer.widgets()

        def one_plane() -> bool:
            """The same plane to 0.1% (an odd pixel split gave one view box 1 px more: 0.4%)."""
            (ox, oy), (sx, sy) = ode.vb.viewRange(), sde.vb.viewRange()
            tol = 1e-3 * (ox[1] - ox[0])
            return max(abs(a - b) for a, b in zip((*ox, *oy), (*sx, *sy))) < tol

        # settled: no view waits for its repaint (ui/paint_turns.py) and the linked ranges
        # agree; the bug this guards (x -4..4 beside -3..3) never settles: the wait times out.
        # (Beside two busy loops the full suite once read the ranges mid-layout: 0.49 apart.)
        qtbot.waitUntil(lambda: not held() and one_plane(), timeout=5_000)
        ox, oy = ode.vb.viewRange()
        assert abs(ode.vb.width() - sde.vb.width()) < 0.5
        assert abs(ode.vb.height() - sde.vb.height()) < 0.5
        # each plot (title, axes, view box) inside its widget: none grows past its pane
        for plot, widget in ((ode, ode_w), (sde, sde_w)):
            assert _widget_in_window(widget, win).contains(_in_window(plot, win))
            title, pane = _in_window(plot.titleLabel.item, win), _widget_in_window(widget, win)
            assert pane.left() <= title.left() and title.right() <= pane.right(), (title, pane)
        # the data's square is shown large: no axis spans more than twice the target's bounds
        x0, x1, y0, y1 = win.target.bounds
        assert ox[0] <= x0 + 1e-6 and ox[1] >= x1 - 1e-6 and oy[0] <= y0 + 1e-6
        assert max(ox[1] - ox[0], oy[1] - oy[0]) <= 2.0 * max(x1 - x0, y1 - y0)
        # one colour bar for the pair, inside the explorer and the window, level with the plots
        central = _widget_in_window(win.centralWidget(), win)
        pane = _widget_in_window(explorer, win)
        bar = _in_window(strip.bar, win)
        assert pane.contains(bar) and central.contains(bar)
        assert _widget_in_window(strip, win).contains(bar)
        top, bottom = _in_window(ode.vb, win), _in_window(sde.vb, win)
        assert abs(bar.top() - top.top()) <= 3 and abs(bar.bottom() - bottom.bottom()) <= 3
        assert bar.left() >= max(_in_window(ode.vb, win).right(), _in_window(sde.vb, win).right())
        # its labels are not drawn over the colours, and the tick labels fit the strip
        label_axis = strip.bar.getAxis("left")
        assert label_axis.width() >= 10 and label_axis.label.isVisible()
        assert strip.bar.axis.textWidth + strip.bar.axis.mapToScene(0, 0).x() <= strip.width()
        # the target canvas's bar: inside its pane too (once the layout placed it after it was
        # shown: a bar that stays outside fails here), its label beside the colours
        canvas_pane = _widget_in_window(win.canvas, win)
        qtbot.waitUntil(lambda: canvas_pane.contains(_in_window(canvas_bar, win)), timeout=5_000)
        assert canvas_bar.getAxis("left").width() >= 10
    finally:
        win.shutdown()
