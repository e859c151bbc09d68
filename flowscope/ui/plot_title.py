"""Plot titles that never widen their plot (the explorer's ODE/SDE pair).

pyqtgraph's title (a LabelItem over the view box's column) asks its plot for the width of its
text. The SDE title's formula is wider than the view box of a plot in a 1366-px window: the
SDE plot then grew past its widget, its view box got wider than the ODE one (x -4..4 beside
-3..3 in linked plots) and its right side was cut off. :func:`fit_title` gives a plot a title
that spans the whole plot (axis column included), asks for no width, and draws its text
smaller when the width it gets is too narrow.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore

__all__ = ["FittingTitle", "fit_title"]


class FittingTitle(pg.LabelItem):
    """A LabelItem whose minimum width is 0: it takes the width the layout gives it and draws
    its text smaller when that is too narrow (wrapping would need a taller title row, and the
    two plots must keep one height)."""

    def __init__(self, parent: pg.PlotItem) -> None:
        super().__init__("", size="11pt", parent=parent)

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph's name
        super().updateMin()
        self.setMinimumWidth(0)
        h = self._sizeHint[QtCore.Qt.SizeHint.MinimumSize][1]
        self._sizeHint[QtCore.Qt.SizeHint.MinimumSize] = (0, h)
        self.updateGeometry()

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        width = self.rect().width()
        self.item.setScale(1.0)
        natural = self.item.boundingRect().width()
        if width > 0 and natural > width:
            self.item.setScale(width / natural)
        super().resizeEvent(ev)

    def text_scale(self) -> float:
        """1, or the factor the text is drawn smaller by to fit the width (tests)."""
        return float(self.item.scale())


def fit_title(plot: pg.PlotItem) -> FittingTitle:
    """Replace ``plot``'s title item by a :class:`FittingTitle` spanning the plot's columns
    (left axis, view box, right axis); ``plot.setTitle`` then sets it as before."""
    old = plot.titleLabel
    plot.layout.removeItem(old)
    old.setParentItem(None)
    if old.scene() is not None:
        old.scene().removeItem(old)
    title = FittingTitle(plot)
    plot.titleLabel = title
    plot.layout.addItem(title, 0, 0, 1, 3)
    return title
