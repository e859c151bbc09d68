"""The "computing…" tag of a plot: shown while what the plot draws is older than the settings
(the compute side has not answered the last control change yet; issue 11, item 5)."""

from __future__ import annotations

from pyqtgraph.Qt import QtGui, QtWidgets

TEXT = "computing…"


class ComputingHint:
    """A small tag pinned to a ViewBox (it ignores pan and zoom), under the plot's t label."""

    def __init__(self, viewbox: QtWidgets.QGraphicsItem) -> None:
        self.box = QtWidgets.QGraphicsRectItem(viewbox)
        self.box.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 0)))
        self.box.setBrush(QtGui.QBrush(QtGui.QColor(255, 243, 205, 230)))
        self.box.setPos(4, 28)  # below the t label (which sits at (4, 4))
        self.box.setZValue(1000)
        self.text = QtWidgets.QGraphicsSimpleTextItem(TEXT, self.box)
        font = QtGui.QFont()
        font.setPointSizeF(9.5)
        font.setItalic(True)
        self.text.setFont(font)
        self.text.setBrush(QtGui.QBrush(QtGui.QColor(120, 70, 0)))
        self.text.setPos(4, 1)
        r = self.text.boundingRect()
        self.box.setRect(0, 0, r.width() + 8, r.height() + 2)
        self.box.setToolTip(
            "the particles or arrows shown were computed with earlier settings; "
            "the new ones are on their way"
        )
        self.box.setVisible(False)

    def set_visible(self, on: bool) -> None:
        if self.box.isVisible() != bool(on):
            self.box.setVisible(bool(on))

    def visible(self) -> bool:
        return self.box.isVisible()
