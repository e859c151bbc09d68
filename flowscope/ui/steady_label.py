"""Status labels whose changing text does not move the layout.

A QLabel asks its layout for the width of its text (one line) or, word-wrapped, for the height
of its lines. A status line that changes every second (loss, steps/s, what the particles follow)
then resized its column, and the splitter resized the plots beside it: every plot and axis
repainted, twice on a project open (bench/gui_latency.py: 60-130 ms of the GUI thread). These
labels keep one size while their text changes:

- ``ElidedLabel``: one line as wide as the layout gives it; a longer text ends in "…" and the
  whole text is in the tooltip.
- ``reserve_lines(label, n)``: a word-wrapped label keeps the height of ``n`` lines, so a text
  that wraps to one line more or less leaves the column as it is.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """A one-line plain-text label that never asks for the width of its text."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().sizeHint().height())

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        rect = self.contentsRect()
        elide = Qt.TextElideMode.ElideRight
        shown = self.fontMetrics().elidedText(self.text(), elide, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(
            painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), shown,
            QPalette.ColorRole.WindowText,
        )  # fmt: skip
        painter.end()

    def event(self, e) -> bool:  # noqa: D102 - Qt override
        if e.type() == e.Type.ToolTip and self.toolTip() == "":
            from PySide6.QtWidgets import QToolTip

            if self.is_elided():
                QToolTip.showText(e.globalPos(), self.text(), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)


def reserve_lines(label: QLabel, lines: int) -> QLabel:
    """Word-wrap ``label`` and keep it at least ``lines`` lines tall (see the module docstring);
    returns it."""
    label.setWordWrap(True)
    m = label.contentsMargins()
    label.setMinimumHeight(lines * label.fontMetrics().lineSpacing() + m.top() + m.bottom())
    return label
