"""Vector-field arrows and density heatmap items for the explorer plots (numpy only).

Arrows are two line items of segment pairs (``connect='pairs'``): one for the shafts and one for
the heads (two short segments per arrow), so M arrows cost two draw calls, never M items.
"""

from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = [
    "ArrowField",
    "segment_lines",
    "trail_pairs",
    "DensityImage",
    "arrow_segments",
    "density_lut",
    "grid_spacing",
    "ScaleLegend",
    "arrow_scale",
    "nice_length",
    "draw_on_one_scale",
]

HEAD_FRACTION = 0.3  # head length as a fraction of the arrow length
HEAD_CAP = 0.35  # ... but at most this fraction of a grid cell
HEAD_ANGLE = np.deg2rad(26.0)
FILL = 0.8  # the longest arrow is this fraction of one grid cell
#: with one scale for all arrow sets: the typical length (FieldResult.reference) fills FILL of a
#: cell, and the few longer arrows are drawn at most MAX_CELLS cells long
MAX_CELLS = 1.5

#: antialiased line paths cost ~11 ms per call in Qt's raster engine and PySide holds the GIL
#: meanwhile (bench/gui_soak.py: the trainer fell to 3% of its solo speed), so lines are aliased
ANTIALIAS_LINES = False


def grid_spacing(origins: np.ndarray) -> float:
    """Grid cell size estimated from arrow origins (M, 2).

    A regular grid (M == #unique x * #unique y) gives the smaller median step; scattered
    origins give sqrt(bounding-box area / M).
    """
    origins = np.asarray(origins, dtype=np.float64)
    if len(origins) < 2:
        return 1.0
    ux, uy = np.unique(origins[:, 0]), np.unique(origins[:, 1])
    if len(ux) > 1 and len(uy) > 1 and len(ux) * len(uy) == len(origins):
        return float(min(np.median(np.diff(ux)), np.median(np.diff(uy))))
    span = origins.max(axis=0) - origins.min(axis=0)
    area = float(span[0] * span[1])
    if area <= 0.0:
        step = float(span.max()) / max(len(origins) - 1, 1)
        return step if step > 0 else 1.0
    return float(np.sqrt(area / len(origins)))


def arrow_scale(cell: float, typical: float) -> float:
    """Plane units per unit of |v| such that an arrow of length ``typical`` fills FILL of a
    cell (1.0 when typical is 0 or not finite)."""
    if not (np.isfinite(typical) and typical > 0):
        return 1.0
    return FILL * float(cell) / float(typical)


def nice_length(scale: float, px_per_unit: float, lo: float = 24.0, hi: float = 70.0) -> float:
    """A round |v| (1, 2 or 5 x 10^k) whose arrow is between lo and hi pixels long."""
    px = scale * px_per_unit  # pixels per unit of |v|
    if not (np.isfinite(px) and px > 0):
        return 1.0
    k = np.floor(np.log10(lo / px))
    for _ in range(4):
        for m in (1.0, 2.0, 5.0):
            v = m * 10.0**k
            if v * px >= lo:  # the first one past lo is below hi: steps are at most x 2.5
                return float(v)
        k += 1
    return float(10.0**k)


def arrow_segments(
    origins: np.ndarray,
    vectors: np.ndarray,
    cell: float | None = None,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shafts (2K, 2) and heads (4K, 2) as segment pairs for the K non-zero arrows.

    origins, vectors: (M, 2). With ``scale`` None, arrows are scaled so the longest one is
    ``FILL`` of a grid cell (``cell``, estimated from the origins when None); with ``scale`` an
    arrow is scale * |v| long (one absolute scale), capped at MAX_CELLS cells. Heads are
    ``HEAD_FRACTION`` of the arrow, capped at ``HEAD_CAP`` of a cell. Zero and non-finite
    vectors draw nothing.
    """
    origins = np.asarray(origins, dtype=np.float64).reshape(-1, 2)
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    if origins.shape != vectors.shape:
        raise ValueError(
            f"origins {origins.shape} and vectors {vectors.shape} must both have shape (M, 2)"
        )
    length = np.hypot(vectors[:, 0], vectors[:, 1])
    keep = np.isfinite(length) & np.isfinite(origins).all(axis=1) & (length > 0)
    if not keep.any():
        return np.zeros((0, 2)), np.zeros((0, 2))
    cell = grid_spacing(origins) if cell is None else float(cell)
    o, v, length = origins[keep], vectors[keep], length[keep]
    if scale is None:
        v, length = v * (FILL * cell / length.max()), length * (FILL * cell / length.max())
    else:
        drawn = np.minimum(length * float(scale), MAX_CELLS * cell)
        v, length = v * (drawn / length)[:, None], drawn
    tip = o + v

    shafts = np.empty((2 * len(o), 2))
    shafts[0::2], shafts[1::2] = o, tip

    head = np.minimum(HEAD_FRACTION * length, HEAD_CAP * cell)
    back = -v / length[:, None] * head[:, None]  # from the tip towards the origin
    c, s = np.cos(HEAD_ANGLE), np.sin(HEAD_ANGLE)
    left = np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], axis=1)
    right = np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], axis=1)
    heads = np.empty((4 * len(o), 2))
    heads[0::4], heads[1::4] = tip, tip + left
    heads[2::4], heads[3::4] = tip, tip + right
    return shafts, heads


def draw_on_one_scale(data: dict, arrows: dict, legend, visible: dict[str, bool]) -> None:
    """Draw the arrow layers of one view on one scale: data: layer -> (origins, vectors,
    reference length); arrows: layer -> ArrowField. The largest typical length of the visible
    layers (the exact field's RMS length where p_t has its mass, sent by the compute side; the
    median shown length when it is 0) fills FILL of a cell; the longest arrows are capped at
    MAX_CELLS cells (the legend's tooltip says so)."""
    if not data:
        legend.set_scale(None)
        return
    cell = min(grid_spacing(o) for o, _, _ in data.values())
    typical = 0.0
    for layer, (_, v, ref) in data.items():
        if visible.get(layer, True):
            if ref <= 0.0:
                length = np.hypot(v[:, 0], v[:, 1])
                length = length[np.isfinite(length)]
                ref = float(np.median(length)) if len(length) else 0.0
            typical = max(typical, ref)
    scale = arrow_scale(cell, typical)
    for layer, (o, v, _) in data.items():
        arrows[layer].set_segments(*arrow_segments(o, v, cell, scale))
    legend.set_scale(scale if typical > 0 else None)


def segment_lines(**opts) -> pg.PlotCurveItem:
    """A PlotCurveItem of segment pairs drawn with QPainter.drawLines.

    With its 1-px cosmetic pen the raster engine draws each segment directly. A path of wider
    or round-capped lines (pyqtgraph's default for pairs) is stroked into polygons and filled,
    partly on Qt's thread pool: arrows drawn that way had to be cached as plot-sized pixmaps,
    re-rendered at every field update and blitted every frame (measured: 25 -> 20 ms of GUI
    thread per frame, and a third of the pool threads' time)."""
    item = pg.PlotCurveItem(connect="pairs", antialias=ANTIALIAS_LINES, skipFiniteCheck=True,
                            **opts)  # fmt: skip
    item.opts["segmentedLineMode"] = "on"
    return item


class ArrowField:
    """Two PlotCurveItems (shafts, heads) of segment pairs in one colour."""

    def __init__(self, color: tuple[int, int, int, int], z: float = 10.0):
        self.shafts = segment_lines()
        self.heads = segment_lines()
        for item in self.items():
            item.setZValue(z)
        self.set_color(color)

    def items(self) -> tuple[pg.PlotCurveItem, pg.PlotCurveItem]:
        return self.shafts, self.heads

    def set_color(self, color) -> None:
        pen = pg.mkPen(color, width=1)  # cosmetic: 1 device pixel at any zoom
        for item in self.items():
            item.setPen(pen)

    def set_segments(self, shafts: np.ndarray, heads: np.ndarray) -> None:
        for item, seg in ((self.shafts, shafts), (self.heads, heads)):
            if len(seg) == 0:
                item.clear()
            else:
                item.setData(x=seg[:, 0], y=seg[:, 1], connect="pairs", skipFiniteCheck=True)

    def setVisible(self, visible: bool) -> None:
        for item in self.items():
            item.setVisible(visible)


def trail_pairs(positions, max_particles: int) -> np.ndarray | None:
    """(2 * (L-1) * N', 2) segment end points for segment_lines from (L, N, 2) positions over
    the last L frames, oldest first; more than ``max_particles`` particles are subsampled
    evenly (N'). None when L < 2 (nothing to draw)."""
    if len(positions) < 2:
        return None
    p = np.asarray(positions, dtype=np.float32)
    if p.ndim != 3 or p.shape[2] != 2:
        raise ValueError(f"trail positions must have shape (L, N, 2), got {p.shape}")
    if p.shape[1] > max_particles:
        p = p[:, :: -(-p.shape[1] // max_particles)]
    pairs = np.empty((p.shape[0] - 1, p.shape[1], 2, 2), np.float32)
    pairs[:, :, 0], pairs[:, :, 1] = p[:-1], p[1:]
    return pairs.reshape(-1, 2)


@functools.lru_cache(maxsize=4)
def density_lut(n: int = 256) -> np.ndarray:
    """(n, 4) uint8 lookup table: white at 0 through light to mid grey (a hint of blue) at 1.

    It stays light: the particles (blue, orange, or the class colours blue, red, green,
    purple) must stand out on it everywhere, and on the deep purple it used to end in the blue
    ones vanished. Built once per n (read-only): every heatmap refresh asks for it."""
    stops = np.array([0.0, 0.15, 0.45, 0.75, 1.0])
    colors = np.array(
        [
            [255, 255, 255, 255],
            [240, 240, 243, 255],
            [212, 212, 219, 255],
            [181, 181, 191, 255],
            [155, 155, 167, 255],
        ],
        dtype=np.float64,
    )
    cmap = pg.ColorMap(stops, colors.astype(np.uint8))
    lut = cmap.getLookupTable(0.0, 1.0, n, alpha=True)
    lut.flags.writeable = False
    return lut


class DensityImage(pg.ImageItem):
    """Heatmap of a density grid: row 0 = TOP, shown y-up inside ``bounds``, white at 0.

    ``scale``: a colour bar (ui/colorbar.HeatmapScale) that shows the levels, set by the view
    that places this item (None: no bar)."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.setLookupTable(density_lut())
        self.setZValue(-100)
        self.scale = None
        self.levels_shown: tuple[float, float] = (0.0, 1.0)

    def set_density(
        self,
        image: np.ndarray,
        bounds: tuple[float, float, float, float],
        log: bool = False,
        label: str | None = None,
    ) -> None:
        """image: (H, W) >= 0, row 0 = top (largest y); bounds: (xmin, xmax, ymin, ymax).

        Displayed with levels (0, max), or with ``log=True`` (counts) as log10(1 + image) with
        levels (0, max): the colour bar states the scale of either."""
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 2:
            raise ValueError(f"density image must have shape (H, W), got {img.shape}")
        img = np.nan_to_num(img, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
        if log:
            img = np.log10(1.0 + img)
        peak = float(img.max()) if img.size else 0.0
        if label is None:
            label = "log₁₀(1 + count)" if log else "density"
        self.set_values(img, bounds, (0.0, peak if peak > 0 else 1.0), None, label)

    def set_values(self, image, bounds, levels, cmap=None, label: str | None = None) -> None:
        """Any (H, W) values (row 0 = top) with the colour scale ``levels`` (lo, hi) and
        ``cmap`` (a pg.ColorMap; None: the density map), shown by the colour bar if any."""
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 2:
            raise ValueError(f"heatmap image must have shape (H, W), got {img.shape}")
        xmin, xmax, ymin, ymax = (float(b) for b in bounds)
        if not (xmax > xmin and ymax > ymin):
            raise ValueError(
                f"bounds must be (xmin, xmax, ymin, ymax) with min < max, got {bounds}"
            )
        lo, hi = float(levels[0]), float(levels[1])
        if not hi > lo:
            hi = lo + 1.0
        self.levels_shown = (lo, hi)
        # ImageItem puts row 0 at the smallest y; flip so row 0 lands at the top of a y-up view
        self.setImage(np.ascontiguousarray(img[::-1]), levels=(lo, hi), autoLevels=False)
        self.setRect(QtCore.QRectF(xmin, ymin, xmax - xmin, ymax - ymin))
        if self.scale is not None:
            from .colorbar import sequential_colormap

            self.scale.show((lo, hi), cmap or sequential_colormap(density_lut()), label)
        elif cmap is not None:
            self.setLookupTable(cmap.getLookupTable(0.0, 1.0, 256, alpha=True))
        else:
            self.setLookupTable(density_lut())

    def clear(self) -> None:
        super().clear()
        if getattr(self, "scale", None) is not None:
            self.scale.hide()


class ScaleLegend(QtWidgets.QGraphicsRectItem):
    """'-> = |u| or |s| of 1': the arrows' absolute scale, pinned to a ViewBox's bottom-left
    corner (it ignores pan and zoom; its arrow follows them)."""

    def __init__(self, view_box: pg.ViewBox) -> None:
        super().__init__(view_box)
        self._vb = view_box
        self._scale: float | None = None
        self.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.setBrush(QtGui.QBrush(QtGui.QColor(255, 255, 255, 220)))
        self.setZValue(1000)
        self.arrow = QtWidgets.QGraphicsPathItem(self)
        pen = QtGui.QPen(QtGui.QColor(30, 30, 30), 1.4)
        self.arrow.setPen(pen)
        self.text = QtWidgets.QGraphicsSimpleTextItem("", self)
        font = QtGui.QFont()
        font.setPointSizeF(9.0)
        self.text.setFont(font)
        self.text.setBrush(QtGui.QBrush(QtGui.QColor(30, 30, 30)))
        self.value: float | None = None
        self.length_px = 0.0
        self.setToolTip(
            "Every arrow set in this view (field, score, learned - exact) is drawn on this one "
            "scale: an arrow as long as this one has |u| (or |s|) equal to the number shown. "
            f"Arrows longer than {MAX_CELLS:g} grid cells are drawn {MAX_CELLS:g} cells long."
        )
        view_box.sigResized.connect(self._update)
        view_box.sigRangeChanged.connect(self._update)
        self.hide()

    def set_scale(self, scale: float | None) -> None:
        """Plane units per unit of |v|, or None to hide the legend (no arrows)."""
        self._scale = scale
        self._update()

    def _update(self, *_args) -> None:
        if self._scale is None:
            self.hide()
            return
        px = self._vb.viewPixelSize()[0]
        if not (px > 0):
            return
        self.value = nice_length(self._scale, 1.0 / px)
        self.length_px = self.value * self._scale / px
        self.text.setText(f"= |u| or |s| of {self.value:g}")
        tr = self.text.boundingRect()
        h = max(tr.height(), 10.0) + 4
        y = h / 2
        x0, x1 = 6.0, 6.0 + self.length_px
        path = QtGui.QPainterPath(QtCore.QPointF(x0, y))
        path.lineTo(x1, y)
        head = min(7.0, 0.35 * self.length_px)
        path.moveTo(x1 - head * np.cos(HEAD_ANGLE), y - head * np.sin(HEAD_ANGLE))
        path.lineTo(x1, y)
        path.lineTo(x1 - head * np.cos(HEAD_ANGLE), y + head * np.sin(HEAD_ANGLE))
        self.arrow.setPath(path)
        self.text.setPos(x1 + 5, (h - tr.height()) / 2)
        self.setRect(0, 0, x1 + 10 + tr.width(), h)
        self.setPos(4, self._vb.height() - h - 4)
        self.show()
