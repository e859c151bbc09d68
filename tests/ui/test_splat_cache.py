"""The raster particles are splatted once per (positions, view): a repaint for another layer
reuses the image (issue 10), and new positions, a pan or a new colour splat again."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from flowscope.ui import gl_points  # noqa: E402


def _grab(w):
    for _ in range(3):
        QApplication.processEvents()
    return w.grab().toImage()


def _shown_plot(qtbot, item):
    """A 300 x 300 plot of the plane (-2, 2)^2 holding ``item``, shown."""
    w = pg.PlotWidget(background="w")
    w.setFixedSize(300, 300)
    w.addItem(item)
    w.getPlotItem().getViewBox().setRange(xRange=(-2, 2), yRange=(-2, 2), padding=0)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_repaints_reuse_the_splat_until_the_particles_or_the_view_change(qtbot, monkeypatch):
    calls = []
    real = gl_points.splat

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(gl_points, "splat", counting)
    item = gl_points.GLPointsItem(size=3.0, color=(0.1, 0.4, 0.8, 0.8))
    w = _shown_plot(qtbot, item)
    rng = np.random.default_rng(0)
    item.setData(rng.normal(size=(500, 2)).astype(np.float32))
    first = _grab(w)
    n = len(calls)
    assert n >= 1
    w.viewport().repaint()  # another layer's repaint: same particles, same view
    assert _grab(w) == first and len(calls) == n

    item.setData(rng.normal(size=(500, 2)).astype(np.float32))  # new positions
    moved = _grab(w)
    assert len(calls) > n and moved != first
    n = len(calls)
    w.getPlotItem().getViewBox().setRange(xRange=(-1, 3), yRange=(-2, 2), padding=0)  # a pan
    assert _grab(w) != moved and len(calls) > n
    n = len(calls)
    item.setColor((0.9, 0.1, 0.1, 0.8))
    _grab(w)
    assert len(calls) > n


def test_class_colours_are_grouped_once_per_colours_array(qtbot, monkeypatch):
    """Particles coloured by class splat one class at a time; the grouping (np.unique over
    every particle) runs once per colours array, not once per frame (a result's colours stay
    the same object while t plays), and the picture is the same either way."""
    uniques = []
    real = np.unique
    monkeypatch.setattr(
        gl_points.np, "unique", lambda *a, **k: (uniques.append(1), real(*a, **k))[1]
    )
    item = gl_points.GLPointsItem(size=4.0)
    w = _shown_plot(qtbot, item)
    rng = np.random.default_rng(1)
    palette = np.array([[0.9, 0.1, 0.1, 1.0], [0.1, 0.1, 0.9, 1.0]], np.float32)
    colors = palette[rng.integers(0, 2, 400)]
    for _ in range(3):  # three frames: new positions, the same colours array
        xy = rng.normal(size=(400, 2)).astype(np.float32)
        item.setData(xy, colors)
        cached = _grab(w)
    assert len(uniques) == 1
    item.setData(xy, colors.copy())  # a new result's colours (equal values): grouped again
    fresh = _grab(w)
    assert len(uniques) == 2 and fresh == cached
    img = fresh.convertToFormat(fresh.Format.Format_RGB32)
    px = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)
    red = (px[..., 2] > 180) & (px[..., 0] < 120)  # BGRA: both classes are drawn
    blue = (px[..., 0] > 180) & (px[..., 2] < 120)
    assert red.sum() > 100 and blue.sum() > 100
