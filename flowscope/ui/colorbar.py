"""Colour bars for the heatmaps: every heatmap shows its scale (pyqtgraph ColorBarItem).

A :class:`HeatmapScale` sits at the right of a PlotItem and mirrors what an image item shows:
the colour map and the levels (lo, hi) the image's values are mapped with, and a short label
saying what is measured. It is display only (not interactive): the levels follow the data.
Diverging maps (a signed quantity such as the continuity residual) are centred at zero.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg

__all__ = ["HeatmapScale", "diverging_colormap", "sequential_colormap"]

#: blue (negative) - white (0) - red (positive), ColorBrewer RdBu reversed
DIVERGING_COLORS = ("#2166ac", "#67a9cf", "#d1e5f0", "#ffffff", "#fddbc7", "#ef8a62", "#b2182b")
BAR_WIDTH_PX = 12


@functools.lru_cache(maxsize=1)
def diverging_colormap() -> pg.ColorMap:
    """White at the centre of the levels: use with symmetric levels (-a, a). One object (the
    bar rebuilds its colours only when the map changes)."""
    return pg.ColorMap(np.linspace(0.0, 1.0, len(DIVERGING_COLORS)), list(DIVERGING_COLORS))


def sequential_colormap(lut: np.ndarray) -> pg.ColorMap:
    """A ColorMap from an (n, 4) uint8 lookup table (white at 0); the same object for the same
    table, so a heatmap refreshed 5 times a second does not rebuild its bar's colours."""
    lut = np.ascontiguousarray(lut, dtype=np.uint8)
    key = (lut.shape, lut.tobytes())
    cmap = _SEQUENTIAL.get(key)
    if cmap is None:
        cmap = _SEQUENTIAL[key] = pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut)
    return cmap


_SEQUENTIAL: dict = {}


class HeatmapScale:
    """A colour bar at the right of ``plot`` (a pg.PlotItem) for ``image`` (a pg.ImageItem).

    ``show(levels, cmap, label)`` sets the image's colour map and levels and the bar's, so
    the bar always states the scale of what the image shows; ``hide()`` when the image is
    cleared. ``levels`` and ``label`` read back what is shown (tests, exports)."""

    def __init__(self, plot: pg.PlotItem, image: pg.ImageItem, cmap: pg.ColorMap, label: str = ""):
        self.plot, self.image = plot, image
        self.cmap = cmap
        self.label = label
        self.levels: tuple[float, float] = (0.0, 1.0)
        self.bar = pg.ColorBarItem(
            values=self.levels, width=BAR_WIDTH_PX, colorMap=cmap, label=label,
            interactive=False, rounding=1e-12, colorMapMenu=False,
        )  # fmt: skip
        self.bar.axis.setTextPen(pg.mkPen(70, 70, 70))
        self.bar.axis.setPen(pg.mkPen(120, 120, 120))
        plot.layout.addItem(self.bar, 2, 5)  # right of the ViewBox (row 2, column 1)
        self.bar.setVisible(False)

    @property
    def visible(self) -> bool:
        return self.bar.isVisible()

    def show(self, levels: tuple[float, float], cmap: pg.ColorMap | None = None,
             label: str | None = None) -> None:  # fmt: skip
        lo, hi = float(levels[0]), float(levels[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            lo, hi = (lo, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
        if cmap is not None and cmap is not self.cmap:
            self.cmap = cmap
            self.bar.setColorMap(cmap)
        if label is not None and label != self.label:
            self.label = label
            self.bar.getAxis("left").setLabel(label)  # where ColorBarItem puts its label
        self.image.setLookupTable(self.cmap.getLookupTable(0.0, 1.0, 256, alpha=True))
        self.image.setLevels((lo, hi))
        if (lo, hi) != self.levels:
            self.levels = (lo, hi)
            self.bar.setLevels((lo, hi), update_items=False)
        self.bar.setVisible(self.image.isVisible())  # the density layer may be hidden

    def hide(self) -> None:
        self.bar.setVisible(False)
