"""The explorer's two plots side by side or one above the other, whichever shows the data larger.

The plots keep an aspect ratio of 1 (a unit is as long in x as in y), so a plot much taller
than wide shows the data's square small, with empty plane above and below: at 1366 x 768 the
side-by-side pair showed y -10..10 for data in -3.5..3.5. :class:`PairLayout` stacks the two
plots when that gives the data's square at least STACK_GAIN times the side of the side-by-side
arrangement, and puts them side by side again when the pane gets wide.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["PairLayout", "stacked_is_larger"]

#: stack only for a clearly larger picture (side by side reads as a comparison)
STACK_GAIN = 1.15
#: a plot's width and height beyond its view box (left axis; title and bottom axis), px
PLOT_EXTRA_W, PLOT_EXTRA_H = 30, 55


def stacked_is_larger(width: float, height: float, spacing: float = 4.0) -> bool:
    """Whether two aspect-1 plots in a ``width`` x ``height`` area show a square of data
    larger stacked than side by side (by STACK_GAIN)."""
    side = min((width - spacing) / 2 - PLOT_EXTRA_W, height - PLOT_EXTRA_H)
    stacked = min(width - PLOT_EXTRA_W, (height - spacing) / 2 - PLOT_EXTRA_H)
    return stacked > STACK_GAIN * max(side, 1.0)


class PairLayout(QtWidgets.QBoxLayout):
    """A box layout of two equal widgets that picks its direction from the room it gets."""

    def __init__(self) -> None:
        super().__init__(QtWidgets.QBoxLayout.Direction.LeftToRight)
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(4)

    def stacked(self) -> bool:
        return self.direction() == QtWidgets.QBoxLayout.Direction.TopToBottom

    def setGeometry(self, rect: QtCore.QRect) -> None:  # noqa: N802 - Qt override
        d = QtWidgets.QBoxLayout.Direction
        want = (
            d.TopToBottom
            if stacked_is_larger(rect.width(), rect.height(), self.spacing())
            else d.LeftToRight
        )
        if want != self.direction():
            self.setDirection(want)
        # an even length to split: an odd pixel made one view box 1 px larger, and the linked
        # aspect-locked views then showed slightly different ranges
        stacked = want == d.TopToBottom
        if ((rect.height() if stacked else rect.width()) - self.spacing()) % 2:
            rect = rect.adjusted(0, 0, 0, -1) if stacked else rect.adjusted(0, 0, -1, 0)
        super().setGeometry(rect)
