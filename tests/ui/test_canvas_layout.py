"""A new target hides the canvas's heatmap until the compute side sends the new one: the plot
must not be re-laid out for that (each re-layout rescaled the aspect-locked view and repainted
the plot whole, two or three times per preset change on the GUI thread)."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication  # noqa: E402

from flowscope.ui.canvas import TargetCanvas  # noqa: E402


def test_hiding_and_showing_the_heatmap_keeps_the_plot_geometry(qtbot):
    canvas = TargetCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 600)
    canvas.show()
    qtbot.waitExposed(canvas)
    vb = canvas.plot_widget().getViewBox()
    img = np.exp(-np.linspace(-3, 3, 64)[None] ** 2 - np.linspace(-3, 3, 64)[:, None] ** 2)
    for peak in (350.0, 0.02):  # the widest tick labels: the bar's axis grows once for them
        canvas.set_density(img * peak, (-3, 3, -3, 3))
        for _ in range(2):  # label widths are measured when painted; then the layout settles
            canvas.plot_widget().viewport().repaint()
            QApplication.processEvents()
    resized: list[int] = []
    vb.sigResized.connect(lambda *_: resized.append(1))
    rect = vb.sceneBoundingRect()
    for peak in (1.0, 0.02, 350.0, 1.0):  # tick labels of different widths
        canvas.set_density(None)  # a new target: its heatmap is computing
        assert not canvas.density_scale.visible
        QApplication.processEvents()  # the layout requests are posted events
        canvas.set_density(img * peak, (-3, 3, -3, 3))
        assert canvas.density_scale.visible
        canvas.plot_widget().viewport().repaint()
        QApplication.processEvents()
    assert resized == [] and vb.sceneBoundingRect() == rect


def test_the_same_heatmap_again_is_not_rendered_again(qtbot, monkeypatch):
    """An objective / schedule / dropout change asks for the target's floor again, and the
    heatmap comes back unchanged: re-rendering it cost a whole canvas repaint (~10-25 ms)."""
    canvas = TargetCanvas()
    qtbot.addWidget(canvas)
    item = canvas._density_item
    calls: list[int] = []
    real = item.setRect  # once per render in set_density (setImage is also pyqtgraph's update)
    monkeypatch.setattr(item, "setRect", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    img = np.outer(np.hanning(32), np.hanning(32))
    canvas.set_density(img, (-3, 3, -3, 3))
    canvas.set_density(img.copy(), (-3, 3, -3, 3))
    assert len(calls) == 1 and canvas.density_scale.levels == (0.0, img.max())
    canvas.set_density(2 * img, (-3, 3, -3, 3))  # new values
    canvas.set_density(2 * img, (-4, 4, -4, 4))  # new bounds
    assert len(calls) == 3 and canvas.density_scale.levels == (0.0, 2 * img.max())
    canvas.set_density(None)  # hidden: showing it again renders it
    canvas.set_density(2 * img, (-4, 4, -4, 4))
    assert len(calls) == 4 and item.isVisible() and canvas.density_scale.visible
