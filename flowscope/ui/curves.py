"""The curves beside the explorer: the training loss with its floor L_min, and the sample
quality (energy distance to the target); and the class colours every view shares."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.support import describe_excess
from . import formulas as F
from .cached_axis import AxisPictures, cached_axes
from .paint_turns import hold_paint
from .steady_label import reserve_lines


def class_color(k: int) -> str:
    """The colour of class k: the canvas's brush colours first (a drawing's classes), then
    pyqtgraph's hue wheel."""
    from .canvas import CLASS_COLORS

    if k < len(CLASS_COLORS):
        return CLASS_COLORS[k]
    return pg.intColor(k, hues=12).name()


def class_swatch(k: int):
    """A small filled square icon in class k's colour (menus, combo boxes)."""
    from PySide6.QtGui import QColor, QIcon, QPixmap

    pm = QPixmap(12, 12)
    pm.fill(QColor(class_color(k)))
    return QIcon(pm)


class CurvesPanel(QWidget):
    """Loss (log scale) with the floor L_min, and the energy distance of samples to the target."""

    def __init__(self, parent=None, with_floor: bool = True, with_quality: bool = True):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        from .log_axis import LogAxis  # decades (and 2s, 5s) in plain numbers, not '9·10¹'

        # cached axes (ui/cached_axis.py): the empty ranges come back after each reset or open
        own = self.axis_pictures = AxisPictures(8)  # their ranges move while training
        axes = {"left": LogAxis("left", own), **cached_axes("bottom", pictures=own)}
        self.loss_plot = pg.PlotWidget(background="w", axisItems=axes)
        self.loss_plot.setLogMode(x=False, y=True)
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setTitle(f"training loss (dashed: floor {F.L_MIN})", size="9pt")
        self.loss_plot.setToolTip(
            F.tooltip(
                f"CFM loss {F.LOSS_CFM} never reaches 0:",
                f"its floor {F.FLOOR} comes from the exact marginal.",
                f"Excess loss = loss − {F.L_MIN} is what converges to 0.",
            )
        )
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.loss_smooth = self.loss_plot.plot(pen=pg.mkPen("#0d3c61", width=2))
        dash = pg.mkPen("#d62728", width=1.5, style=Qt.PenStyle.DashLine)
        self.floor_line = pg.InfiniteLine(angle=0, pen=dash)
        self.floor_line.setVisible(False)
        self.loss_plot.addItem(self.floor_line)
        self.quality_plot = pg.PlotWidget(background="w", axisItems=cached_axes(pictures=own))
        # 8 pt and no "(x0.001)": the label was longer than the 110-px plot and cut off
        self.quality_plot.setLabel("left", "energy dist.", **{"font-size": "8pt"})
        self.quality_plot.getAxis("left").enableAutoSIPrefix(False)
        self.quality_plot.setLabel("bottom", "step")
        self.quality_plot.setTitle("sample quality (reference sampler vs target)", size="9pt")
        self._quality_tip = F.tooltip(
            f"energy distance {F.ENERGY} between",
            "generated and target samples (lower is better).",
            "Measured with a fixed sampler (Heun, 40 steps, 1500 samples, fixed seeds, no",
            "guidance; a conditional model samples each class in its share of p_data): the",
            "solver, steps, class and w of the views do not move it.",
        )
        self.quality_plot.setToolTip(self._quality_tip)
        self.quality_curve = self.quality_plot.plot(
            pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=4
        )
        for p in (self.loss_plot, self.quality_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setMinimumHeight(110)  # both curves fit a 1000-px screen without scrolling
            # pyqtgraph's 480-px size hint made a scrolling control column 1600 px tall
            p.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        if not with_floor:  # image data: no closed-form marginal, so no floor
            self.loss_plot.setTitle("training loss", size="9pt")
            self.loss_plot.setToolTip(
                F.tooltip(
                    f"CFM loss {F.LOSS_CFM} (log scale).",
                    f"It never reaches 0: even the exact marginal field {F.U_T}(x) leaves a floor,",
                    "which has no closed form for image data.",
                )
            )
        # the plots take the height (the label under them floated mid-column in image mode)
        lay.addWidget(self.loss_plot, 1)
        lay.addWidget(self.quality_plot, 1)
        self.quality_plot.setVisible(with_quality)
        self.floor_stderr: float | None = None
        # two lines kept: the text changes each second and must not resize the column
        self.excess_label = reserve_lines(QLabel(""), 2)
        self.excess_label.setStyleSheet("color:#555;")
        lay.addWidget(self.excess_label)
        self._empty_ranges()

    def _empty_ranges(self) -> None:
        """Before training: fixed, readable axes (an empty log axis crowds its labels)."""
        self._empty = True
        self._loss_ranges = None
        self.loss_plot.setXRange(0, 1000, padding=0)
        self.loss_plot.setYRange(-2, 1, padding=0)  # log10: 0.01 .. 10
        self.quality_plot.setXRange(0, 1000, padding=0)
        self.quality_plot.setYRange(0, 0.1, padding=0)

    def set_loss(self, steps: np.ndarray, losses: np.ndarray, floor: float | None) -> None:
        # each curve repaints in a turn of its own (ui/paint_turns.py): a new target's loss
        # curve repainted in one pass with the explorer's SDE plot (a 52 ms gap)
        hold_paint(self.loss_plot)
        if len(steps) == 0:
            self.loss_curve.setData([], [])
            self.loss_smooth.setData([], [])
            self.excess_label.setText("")
            self._empty_ranges()
        else:
            self._empty = False
            self._fit_loss_ranges(steps, losses)
            stride = max(1, len(steps) // 2000)
            self.loss_curve.setData(steps[::stride], losses[::stride])
            k = max(1, min(len(losses) // 10, 100))
            c = np.cumsum(losses)  # the running mean over k steps in O(n), not O(n k)
            smooth = (c[k - 1 :] - np.concatenate(([0.0], c[:-k]))) / k
            self.loss_smooth.setData(steps[k - 1 :][::stride], smooth[::stride])
            if floor is not None and math.isfinite(floor):
                self.excess_label.setText(
                    f"loss {smooth[-1]:.4f}  ·  floor L_min {floor:.4f}  ·  "
                    + describe_excess(float(smooth[-1]), floor, self.floor_stderr)
                )
            else:
                self.excess_label.setText(f"loss {smooth[-1]:.4f} (smoothed over {k} steps)")
        self.set_floor(floor, self.floor_stderr)

    def _fit_loss_ranges(self, steps: np.ndarray, losses: np.ndarray) -> None:
        """The loss axes in coarse steps: x to the last step rounded up to one significant
        digit (1000, 2000, ... 10000, 20000), y (log10) to whole quarter decades around the
        losses. Autorange moved both every second while training, and each move re-drew both
        axes: a 10-20 ms repaint of this plot in the same frame as the explorer's."""
        last = max(float(steps[-1]), 10.0)
        unit = 10.0 ** math.floor(math.log10(last))
        x1 = math.ceil(last / unit) * unit
        y = losses[np.isfinite(losses) & (losses > 0)]
        if len(y):
            lo = math.floor(4 * math.log10(float(y.min()))) / 4
            hi = math.ceil(4 * math.log10(float(y.max()))) / 4
            hi = max(hi, lo + 0.25)
        else:
            lo, hi = -2.0, 1.0
        ranges = (x1, lo, hi)
        if ranges != self._loss_ranges:
            self._loss_ranges = ranges
            self.loss_plot.setRange(xRange=(0.0, x1), yRange=(lo, hi), padding=0.02)

    def set_floor(self, floor: float | None, stderr: float | None = None) -> None:
        """The dashed L_min line (hidden while the floor is unknown, e.g. still computing);
        stderr: its Monte Carlo standard error (the excess is reported within 2 of them)."""
        self.floor_stderr = stderr
        hold_paint(self.loss_plot)
        if floor is not None and math.isfinite(floor) and floor > 0:
            self.floor_line.setValue(math.log10(floor))
            self.floor_line.setVisible(True)
        else:
            self.floor_line.setVisible(False)

    def show_history(self, history, floor: float | None) -> None:
        """The loss curve of a trainer's LossHistory (append-only lists, read up to one length)."""
        n = len(history.losses)
        steps = np.fromiter(history.steps[:n], dtype=float, count=n)
        losses = np.fromiter(history.losses[:n], dtype=float, count=n)
        self.set_loss(steps, losses, floor)

    def set_quality(
        self,
        steps: list[int],
        values: list[float],
        support: float | None = None,
        precision: float | None = None,
    ) -> None:
        """The energy-distance curve; support, precision: the latest support share and mean
        exact log p_data of the samples (in the tooltip). The axes run from 0 (an energy
        distance is >= 0) to a little above the largest value, also with one point."""
        x, y = np.asarray(steps, float), np.asarray(values, float)
        hold_paint(self.quality_plot)
        self.quality_curve.setData(x, y)
        finite = y[np.isfinite(y)]
        if len(finite):
            self.quality_plot.setYRange(0.0, 1.15 * max(float(finite.max()), 1e-6), padding=0)
            self.quality_plot.setXRange(0.0, max(float(x.max()) * 1.05, 10.0), padding=0)
        else:
            self.quality_plot.setXRange(0, 1000, padding=0)
            self.quality_plot.setYRange(0, 0.1, padding=0)
        tip = self._quality_tip
        if values:
            tip += f"<br>latest: energy distance {values[-1]:.4g}"
            if support is not None:
                tip += (
                    f", {100 * support:.1f}% of samples inside the target's support "
                    "(p<sub>data</sub> &ge; 1% of its maximum)"
                )
            if precision is not None:
                tip += f", precision (mean log p<sub>data</sub>) {precision:.2f}"
        self.quality_plot.setToolTip(tip)
