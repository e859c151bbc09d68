"""The Diagnostics panel: how far the trained network is from the exact answer (issue 13).

- error by t: E_{x ~ p_t} ||u_θ(x, t) − u_t(x)||² per time bin, and the excess training loss
  L(t) − L_min(t) (log scale; refreshed from training snapshots every few seconds);
- the decomposition of the sample error (energy distance to the target) at the sampler's
  current steps / solver / σ: total, network (fine solver), solver (exact field), floor;
- NLL over training: the model's −E log p_1 beside the exact one (the entropy floor);
- for point-set targets: the samples coloured by their distance to the nearest training point;
- a training-progress scrub: replay the field, samples and diagnostics at a past step.

Display only: numpy arrays in, nothing computed here (the compute side does the math,
see flowscope/train/diagnostics_compute.py).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from . import formulas as F

BAR_NAMES = ("total", "network", "solver", "floor")
BAR_COLORS = ("#1f77b4", "#d62728", "#ff7f0e", "#7f7f7f")
MSE_COLOR, EXCESS_COLOR = "#1f77b4", "#ff7f0e"
PLOT_MIN_HEIGHT = 160
#: samples coloured by distance to the nearest training point: near (memorized) -> far
NEAR_COLOR, FAR_COLOR = np.array([214, 39, 40]), np.array([31, 119, 180])


def _plot(title: str, left: str, bottom: str, tip: str) -> pg.PlotWidget:
    p = pg.PlotWidget(background="w")
    p.setTitle(title, size="9pt")
    p.setLabel("left", left)
    p.setLabel("bottom", bottom)
    p.setToolTip(tip)
    p.showGrid(x=True, y=True, alpha=0.2)
    # tall enough for its axis label and a readable curve (at 100 px: ~50 px of data, the
    # labels cut); the control column scrolls to it on a laptop
    p.setMinimumHeight(PLOT_MIN_HEIGHT)
    p.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
    p.getPlotItem().hideButtons()
    p.getPlotItem().setMenuEnabled(False)
    return p


def _positive(y) -> np.ndarray:
    """Values for a log axis: non-positive and non-finite ones become nan (gaps)."""
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


class DiagnosticsPanel(QWidget):
    """Curves and bars of the diagnostics; ``scrubbed(index)``: the scrub slider moved
    (-1: live)."""

    scrubbed = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.error_plot = _plot(
            "field error by t (log)", "error", "t",
            F.tooltip(
                f"blue: E<sub>x~{F.P_T}</sub> {F.NORM2.format(F.U_THETA + ' − ' + F.U_T)} per "
                "time bin (x from the exact p_t)",
                f"orange: excess training loss L(t) − {F.L_MIN}(t) (training units)",
                "for the velocity objective both estimate the same error",
            ),
        )  # fmt: skip
        self.error_plot.setLogMode(x=False, y=True)
        self.error_plot.setXRange(0, 1, padding=0.02)
        self.error_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.mse_curve = self.error_plot.plot(
            pen=pg.mkPen(MSE_COLOR, width=2), symbol="o", symbolSize=4,
            symbolBrush=MSE_COLOR, name="field error",
        )  # fmt: skip
        self.excess_curve = self.error_plot.plot(
            pen=pg.mkPen(EXCESS_COLOR, width=2, style=Qt.PenStyle.DashLine), name="excess loss"
        )
        self.decomp_plot = _plot(
            "sample error: energy distance to the target", "energy dist.", "",
            F.tooltip(
                f"energy distance {F.ENERGY} to fresh target samples, same noise for all:",
                "total: the network with the sampler's steps / solver / σ",
                "network: the network with a fine solver (RK4)",
                "solver: the exact field with the sampler's steps",
                "floor: the exact field, fine solver (what n samples resolve)",
            ),
        )  # fmt: skip
        ax = self.decomp_plot.getAxis("bottom")
        ax.setTicks([list(enumerate(BAR_NAMES))])
        self.bars = pg.BarGraphItem(
            x=np.arange(4), height=np.zeros(4), width=0.6,
            brushes=[pg.mkBrush(c) for c in BAR_COLORS], pen=pg.mkPen(None),
        )  # fmt: skip
        self.decomp_plot.addItem(self.bars)
        self.decomp_plot.setXRange(-0.6, 3.6, padding=0)
        self.decomp_plot.setMouseEnabled(x=False, y=False)
        self.nll_plot = _plot(
            "NLL over training: model vs exact", "nats", "step",
            F.tooltip(
                "−E log p<sub>1</sub>(x) of fresh target points x: the model's flow (RK4, "
                "log-likelihood ODE) and the exact marginal (dashed, the entropy floor)",
            ),
        )  # fmt: skip
        self.nll_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.nll_model = self.nll_plot.plot(
            pen=pg.mkPen("#9467bd", width=2), symbol="o", symbolSize=4, symbolBrush="#9467bd",
            name="model",
        )  # fmt: skip
        self.nll_exact = self.nll_plot.plot(
            pen=pg.mkPen("#333333", width=1.5, style=Qt.PenStyle.DashLine), name="exact"
        )
        self.memo_plot = _plot(
            "memorization: samples by distance to the nearest training point", "", "",
            F.tooltip(
                "black +: the training points (a point set, h = 0);",
                "samples coloured red (on a training point) to blue (far from all)",
            ),
        )  # fmt: skip
        self.memo_plot.getViewBox().setAspectLocked(True)
        self.memo_samples = pg.ScatterPlotItem(size=4, pen=None)
        self.memo_train = pg.ScatterPlotItem(size=7, symbol="+", pen=pg.mkPen("k", width=1.2))
        self.memo_plot.addItem(self.memo_samples)
        self.memo_plot.addItem(self.memo_train)
        self.memo_plot.setVisible(False)
        for p in (self.error_plot, self.decomp_plot, self.nll_plot, self.memo_plot):
            lay.addWidget(p, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("replay step"))
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.setToolTip(
            "training progress: ~64 snapshots kept log-spaced over training; drag to replay "
            "the field, samples and diagnostics at a past step, to the right end for live"
        )
        self.scrub.valueChanged.connect(self._on_scrub)
        row.addWidget(self.scrub, 1)
        self.scrub_label = QLabel("live")
        self.scrub_label.setMinimumWidth(70)
        row.addWidget(self.scrub_label)
        lay.addLayout(row)
        self.summary = QLabel("train to see where the network is wrong")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color:#555;")
        lay.addWidget(self.summary)
        self._steps: list[int] = []
        self.nll_history: dict[int, tuple[float, float]] = {}

    # ----------------------------------------------------------------- data in
    def clear(self) -> None:
        self.mse_curve.setData([], [])
        self.excess_curve.setData([], [])
        self.bars.setOpts(height=np.zeros(4))
        self.nll_history.clear()
        self.nll_model.setData([], [])
        self.nll_exact.setData([], [])
        self.memo_samples.setData([], [])
        self.summary.setText("train to see where the network is wrong")

    def show_result(self, res, live: bool = True) -> None:
        """A DiagnosticsResult (numpy); ``live``: from the newest weights (the NLL curve
        grows only with those)."""
        lines = [f"step {res.step}:"]
        if res.t is not None and res.field_mse is not None:
            self.mse_curve.setData(res.t, _positive(res.field_mse))
            if res.excess_loss is not None:
                self.excess_curve.setData(res.t, _positive(res.excess_loss))
            else:
                self.excess_curve.setData([], [])
            mean = float(np.nanmean(res.field_mse))
            lines.append(f"mean field error {mean:.3g}")
        if res.decomposition is not None:
            self.set_decomposition(res.decomposition)
            d = res.decomposition
            lines.append(
                f"network share {d['network'] - d['floor']:.2g}, solver share "
                f"{d['solver'] - d['floor']:.2g} ({d['steps']} {d['solver_name']} steps)"
            )
        if res.nll is not None:
            if live:
                self.nll_history[res.step] = (res.nll["model"], res.nll["exact"])
                steps = sorted(self.nll_history)
                self.nll_model.setData(steps, [self.nll_history[s][0] for s in steps])
                self.nll_exact.setData(steps, [self.nll_history[s][1] for s in steps])
            lines.append(f"NLL {res.nll['model']:.3f} vs exact {res.nll['exact']:.3f}")
        if res.memorization is not None and res.samples is not None:
            lines.append(f"memorized {100 * res.memorization['share']:.0f}% of samples")
        self.summary.setText("  ·  ".join(lines))

    def set_decomposition(self, d: dict) -> None:
        h = np.array([d[k] for k in BAR_NAMES], dtype=float)
        h = np.where(np.isfinite(h), h, 0.0)
        self.bars.setOpts(height=h)
        top = float(h.max()) if h.size else 0.0
        self.decomp_plot.setYRange(0.0, top * 1.1 if top > 0 else 1.0, padding=0)
        sig = f", σ = {d['sigma']:g}" if d.get("sigma") else ""
        self.decomp_plot.setTitle(
            f"sample error at {d['steps']} {d['solver_name']} steps{sig} (energy dist.)",
            size="9pt",
        )

    def set_memorization(self, samples, nearest, train_points, spacing: float) -> None:
        """Samples (n, 2) coloured by distance to the nearest training point (red: within
        0.2 of the spacing; blue: a spacing or more away), training points as black +."""
        if samples is None or train_points is None:
            self.memo_plot.setVisible(False)
            return
        self.memo_plot.setVisible(True)
        a = np.clip(np.asarray(nearest, float) / max(spacing, 1e-12), 0.0, 1.0)[:, None]
        rgb = (1 - a) * NEAR_COLOR + a * FAR_COLOR
        brushes = [pg.mkBrush(int(r), int(g), int(b), 170) for r, g, b in rgb]
        self.memo_samples.setData(pos=np.asarray(samples), brush=brushes)
        self.memo_train.setData(pos=np.asarray(train_points))

    # ----------------------------------------------------------------- scrub
    def set_snapshot_steps(self, steps: list[int]) -> None:
        """The steps kept for replay (oldest first); the slider's right end is live."""
        at_live = self.scrub.value() >= self.scrub.maximum()
        self._steps = list(steps)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, len(steps))  # len(steps): live
        if at_live:
            self.scrub.setValue(len(steps))
        self.scrub.blockSignals(False)

    def _on_scrub(self, value: int) -> None:
        live = value >= len(self._steps)
        self.scrub_label.setText("live" if live else f"step {self._steps[value]}")
        self.scrubbed.emit(-1 if live else int(value))


def finite_or_none(x) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None
