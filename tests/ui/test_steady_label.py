"""Status lines whose text changes every second do not resize the window's panes (issue 10:
a longer loss line widened the control column and the splitter resized and repainted every
plot; a project open did it twice)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPoint  # noqa: E402
from PySide6.QtGui import QHelpEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel, QToolTip, QVBoxLayout, QWidget  # noqa: E402

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402
from flowscope.ui.steady_label import ElidedLabel, reserve_lines  # noqa: E402

LONG = "particles follow the exact field until the network's first weights arrive " * 3


def test_elided_label_asks_for_no_width_and_keeps_its_text(qtbot):
    label = ElidedLabel("short")
    qtbot.addWidget(label)
    h = label.sizeHint().height()
    label.setText(LONG)
    assert label.minimumSizeHint().width() == 0 and label.sizeHint().width() == 0
    assert label.sizeHint().height() == h  # one line whatever the text
    assert label.text() == LONG  # the whole text (tests and the tooltip read it)
    label.resize(200, h)
    assert label.is_elided()
    label.show()
    tip = QHelpEvent(QEvent.Type.ToolTip, QPoint(5, 5), label.mapToGlobal(QPoint(5, 5)))
    QApplication.sendEvent(label, tip)
    assert QToolTip.text() == LONG  # the elided text is in the tooltip
    label.setText("short")
    assert not label.is_elided()


def test_reserved_lines_keep_the_height_while_the_text_wraps_to_one_line_more(qtbot):
    box = QWidget()
    lay = QVBoxLayout(box)
    label = reserve_lines(QLabel("one line"), 2)
    lay.addWidget(label)
    lay.addStretch(1)
    qtbot.addWidget(box)
    box.resize(300, 400)
    box.show()
    qtbot.waitExposed(box)
    before = label.height()
    assert before >= 2 * label.fontMetrics().lineSpacing()
    label.setText("step 1,294 · 207 steps/s · cpu · settings changed: Reset applies them")
    for _ in range(3):  # the posted LayoutRequests
        QApplication.processEvents()
    assert label.height() == before


def test_status_texts_do_not_resize_the_explorer_or_the_curves(qtbot, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    win = MainWindow(AppState(target_source="two_moons", playing=False), ask_to_save=False)
    qtbot.addWidget(win)
    try:
        win.resize(1366, 768)
        win.show()
        qtbot.waitExposed(win)
        watched = [win.explorer, win.curves.loss_plot, win.curves.quality_plot,
                   win.control_scroll.widget()]  # fmt: skip

        def sizes():
            for _ in range(3):  # the posted LayoutRequests, up the widget tree
                QApplication.processEvents()
            return [w.size().toTuple() for w in watched]

        before = sizes()
        # the texts that used to move the layout: the longest of each status line
        win.status_label.setText(LONG)
        win.curves.excess_label.setText(
            "loss 2.9098  ·  floor L_min 2.8463  ·  excess within noise of the floor"
        )
        win.training_panel.status.setText(
            "step 1,294 · 207 steps/s · cpu · settings changed: Reset applies them"
        )
        assert sizes() == before
        win.status_label.setText("particles follow the learned field")
        win.curves.excess_label.setText("")
        win.training_panel.status.setText("paused at step 1 · cpu")
        assert sizes() == before
    finally:
        win.shutdown()
