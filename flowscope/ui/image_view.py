"""A labelled grid of small images (the class x w sample grid, the trajectory strip, real data).

Pixels are drawn as sharp blocks (nearest neighbour): 8x8 digits must stay readable when scaled.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.render import to_rgb8

GAP = 2  # pixels between cells
GROUP_GAP = 8  # pixels between column groups (the samples of one w)
#: exported pictures: each cell at least this many pixels tall (8x8 digits x 8, 28x28 x 3)
EXPORT_CELL_PX = 64
EXPORT_FONT_PT = 11


class ImageGridView(QWidget):
    """``set_images((R, K, C, H, W), value_range, row_labels, col_labels, group)``: R rows of K
    cells; ``group`` consecutive cells share one column label (several samples per w)."""

    def __init__(self, message: str = "", parent=None, center: bool = True):
        super().__init__(parent)
        self._center = center
        self._rgb: np.ndarray | None = None  # (R, K, H, W, 3) uint8
        self._qimages: list[list[QImage]] = []
        self._rows: list[str] = []
        self._cols: list[str] = []
        self._group = 1
        self._message = message
        self._stale = False
        self._args: tuple | None = None  # set_images' arguments (for to_image)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 80)

    # ----------------------------------------------------------------- content
    def set_message(self, text: str) -> None:
        """Show ``text`` instead of images (e.g. before there is a model)."""
        self._rgb, self._qimages, self._message = None, [], text
        self._args = None
        self.update()

    def set_stale(self, stale: bool) -> None:
        """Dim the images while newer ones are being computed."""
        if stale != self._stale:
            self._stale = stale
            self.update()

    def set_images(
        self,
        images: np.ndarray,
        value_range: tuple[float, float] | None,
        row_labels: list[str] | None = None,
        col_labels: list[str] | None = None,
        group: int = 1,
    ) -> None:
        x = np.asarray(images)
        self._args = (x, value_range, row_labels, col_labels, group)
        if x.ndim != 5:
            raise ValueError(f"images must be (rows, cols, C, H, W), got shape {x.shape}")
        r, k = x.shape[:2]
        rgb = to_rgb8(x.reshape(r * k, *x.shape[2:]), value_range)
        self._rgb = rgb.reshape(r, k, *rgb.shape[1:])
        self._qimages = [[self._qimage(self._rgb[i, j]) for j in range(k)] for i in range(r)]
        self._rows = list(row_labels or [])
        self._cols = list(col_labels or [])
        self._group = max(1, int(group))
        self._message, self._stale = "", False
        self.update()

    @staticmethod
    def _qimage(a: np.ndarray) -> QImage:
        h, w, _ = a.shape
        return QImage(a.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()

    def images_rgb(self) -> np.ndarray | None:
        """(R, K, H, W, 3) uint8 as shown (tests, exports)."""
        return self._rgb

    def to_image(self, cell_px: int = EXPORT_CELL_PX) -> QImage | None:
        """The grid as the view shows it - row and column labels included - with each cell
        a whole multiple of its pixels, at least ``cell_px`` tall (None when empty)."""
        if self._args is None or self._rgb is None:
            return None
        r, k = self.shape
        h, w = self._rgb.shape[2:4]
        scale = max(1, -(-int(cell_px) // h))
        clone = ImageGridView(center=False)
        font = clone.font()
        font.setPointSizeF(EXPORT_FONT_PT)
        clone.setFont(font)
        clone.set_images(*self._args)
        fm = clone.fontMetrics()
        left = max((fm.horizontalAdvance(s) for s in clone._rows), default=0)
        left = left + 10 if left else 2
        top = fm.height() + 6 if clone._cols else 2
        groups = -(-k // clone._group)
        width = left + 4 + k * (w * scale + GAP) + GROUP_GAP * (groups - 1)
        # column labels wider than their cells (w = 1.5 over one 8-px digit) need room
        widest = max((fm.horizontalAdvance(s) for s in clone._cols), default=0)
        width = max(width, left + 4 + groups * (widest + GROUP_GAP))
        height = top + 4 + r * (h * scale + GAP)
        clone.resize(width + 1, height + 1)
        image = QImage(clone.size(), QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        clone.render(image)
        return image

    @property
    def shape(self) -> tuple[int, int]:
        return (0, 0) if self._rgb is None else tuple(self._rgb.shape[:2])

    # ----------------------------------------------------------------- layout
    def _layout(self) -> tuple[int, int, int, int, int]:
        """(left, top, cell width, cell height, groups) for the current size."""
        r, k = self.shape
        h, w = self._rgb.shape[2:4]
        fm = self.fontMetrics()
        left = max((fm.horizontalAdvance(s) for s in self._rows), default=0)
        left = left + 10 if left else 2
        top = fm.height() + 6 if self._cols else 2
        groups = -(-k // self._group)
        avail_w = self.width() - left - 4 - GAP * k - GROUP_GAP * (groups - 1)
        avail_h = self.height() - top - 4 - GAP * r
        scale = max(1.0, min(avail_w / (k * w), avail_h / (r * h)))
        if scale >= 2:
            scale = float(int(scale))  # whole pixels stay square and equal
        cw, ch = int(w * scale), int(h * scale)
        used = left + k * (cw + GAP) + GROUP_GAP * (groups - 1)
        shift = max(0, (self.width() - used) // 2) if self._center else 0
        return left + shift, top, cw, ch, groups

    def cell_rect(self, row: int, col: int) -> QRect:
        left, top, cw, ch, _ = self._layout()
        x = left + col * (cw + GAP) + (col // self._group) * GROUP_GAP
        y = top + row * (ch + GAP)
        return QRect(x, y, cw, ch)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(480, 360)

    # ----------------------------------------------------------------- paint
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        if self._rgb is None:
            p.setPen(QColor("#777"))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            p.drawText(self.rect().adjusted(12, 12, -12, -12), flags, self._message)
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        r, k = self.shape
        left, top, cw, ch, _ = self._layout()
        fm = self.fontMetrics()
        p.setPen(QColor("#333"))
        for i in range(r):
            rect = self.cell_rect(i, 0)
            if i < len(self._rows):
                p.drawText(QRect(0, rect.top(), left - 6, ch),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                           self._rows[i])  # fmt: skip
            for j in range(k):
                p.drawImage(self.cell_rect(i, j), self._qimages[i][j])
        for g, text in enumerate(self._cols):
            a = self.cell_rect(0, g * self._group)
            b = self.cell_rect(0, min(k, (g + 1) * self._group) - 1)
            p.drawText(QRect(a.left() - 20, 0, b.right() - a.left() + 40, top - 2),
                       Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                       fm.elidedText(text, Qt.TextElideMode.ElideRight,
                                     b.right() - a.left() + 40))  # fmt: skip
        if self._stale:
            p.fillRect(self.rect(), QColor(255, 255, 255, 90))
        p.end()
