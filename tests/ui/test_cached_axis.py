"""CachedAxis (issue 10): linked twins and earlier ranges replay a picture instead of drawing it
again, and what is drawn is exactly what pyqtgraph's own AxisItem draws."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from flowscope.ui.cached_axis import AxisPictures, CachedAxis  # noqa: E402

SIZE = (360, 300)


def _plot(qtbot, pictures=None, cached=True):
    """A plot shown and painted once at its first range (an axis's width follows the widest
    label it has drawn: plots compared must have the same history)."""
    axes = None
    if cached:
        axes = {k: CachedAxis(k, pictures) for k in ("left", "bottom")}
    w = pg.PlotWidget(background="w", axisItems=axes)
    w.getPlotItem().showGrid(x=True, y=True, alpha=0.12)
    w.getPlotItem().hideButtons()
    w.setFixedSize(*SIZE)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    _image(w)
    return w


def _show(w, x, y):
    w.getPlotItem().getViewBox().setRange(xRange=x, yRange=y, padding=0)


def _image(w):
    for _ in range(3):
        QApplication.processEvents()
    return w.grab().toImage()


def test_twins_share_pictures_and_draw_what_pyqtgraph_draws(qtbot):
    store = AxisPictures()
    ode, sde, plain = _plot(qtbot, store), _plot(qtbot, store), _plot(qtbot, cached=False)
    sde.setXLink(ode.getPlotItem())
    sde.setYLink(ode.getPlotItem())
    _show(ode, (-4, 4), (-4, 4))
    _show(plain, (-4, 4), (-4, 4))
    img_ode, img_sde, img_plain = _image(ode), _image(sde), _image(plain)
    assert store.hits >= 2  # the second plot's two axes replayed the first one's pictures
    assert img_ode == img_plain and img_sde == img_plain


def test_an_earlier_range_is_replayed_and_a_new_style_is_drawn_anew(qtbot):
    store = AxisPictures()
    w, plain = _plot(qtbot, store), _plot(qtbot, cached=False)
    for x in ((-3.5, 3.5), (-4.5, 4.5)):  # (both: the axis's width follows its widest label)
        for p in (w, plain):
            _show(p, x, x)
            _image(p)
    hits = store.hits
    for p in (w, plain):
        _show(p, (-3.5, 3.5), (-3.5, 3.5))
    assert _image(w) == _image(plain)
    assert store.hits > hits  # back to a range drawn before: replayed
    misses = store.misses
    for p in (w, plain):
        p.getPlotItem().getAxis("left").setTextPen(pg.mkPen(200, 0, 0))
    assert _image(w) == _image(plain)  # not the old picture in the old colour
    assert store.misses > misses
