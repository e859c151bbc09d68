"""The SDE playground window (issue 14, item 5; the course's first lab): Brownian motion,
Ornstein-Uhlenbeck with theta and sigma sliders (its stationary N(0, sigma^2 / 2 theta) drawn as
1 and 2 standard-deviation circles), Langevin toward the current target with its exact score,
annealed Langevin along p_t. Particles with short trails are animated over the simulated time;
below, the histogram of the particles' x coordinate against the reference density.

Threads: each simulation (``train/playground.py``) runs on a worker thread (seconds for the
Langevin ones); a 30 Hz timer picks up the finished result and animates its frames. A newer
request makes an older result stale: it is dropped when it arrives.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..train.playground import LABELS, PROCESSES, PlaygroundRequest, PlaygroundResult, simulate
from .field_items import DensityImage, segment_lines
from .gl_points import GLPointsItem

TICK_MS = 33
PLAY_S = 4.0  # one pass over the frames
TRAIL = 6
TRAIL_PARTICLES = 150


class PlaygroundWindow(QtWidgets.QWidget):
    """A separate window; ``target`` is a callable returning the current Target (its exact
    mixture is what Langevin samples)."""

    def __init__(self, target, parent=None) -> None:
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.setWindowTitle("SDE playground · flowscope")
        self._target = target
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowscope-playground")
        self._future: Future | None = None
        self._generation = 0
        self.result: PlaygroundResult | None = None
        self.frame = 0
        self._build()
        self._timer = QtCore.QTimer(self, interval=TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.resize(760, 820)

    # ----------------------------------------------------------------- widgets
    def _build(self) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        self.process = QtWidgets.QComboBox()
        for p in PROCESSES:
            self.process.addItem(LABELS[p], p)
        self.process.setCurrentIndex(PROCESSES.index("ou"))
        self.process.setToolTip(
            "Euler-Maruyama X_{k+1} = X_k + h b(X_k) + σ √h ε from X_0 ~ N(0, I).\n"
            "OU: stationary N(0, σ²/2θ). Langevin: p is stationary for dX = σ²/2 ∇log p dt + σ dW"
        )
        row.addWidget(self.process, 1)
        self.run_button = QtWidgets.QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        row.addWidget(self.run_button)
        lay.addLayout(row)
        form = QtWidgets.QFormLayout()
        self.theta = self._spin(1.0, 0.05, 10.0, "θ: the OU pull toward 0 (dX = −θX dt + σ dW)")
        self.sigma = self._spin(1.0, 0.0, 5.0, "σ: the noise scale (σ dW)")
        self.duration = self._spin(5.0, 0.1, 50.0, "simulated time T")
        self.steps = QtWidgets.QSpinBox(minimum=10, maximum=5000, value=300)
        self.steps.setToolTip("Euler-Maruyama steps (h = T / steps)")
        self.n = QtWidgets.QSpinBox(minimum=10, maximum=20000, value=1000)
        for label, w in (
            ("θ", self.theta),
            ("σ", self.sigma),
            ("T", self.duration),
            ("steps", self.steps),
            ("particles", self.n),
        ):
            form.addRow(label, w)
        lay.addLayout(form)
        self.status = QtWidgets.QLabel("")
        self.status.setStyleSheet("color:#555;")
        lay.addWidget(self.status)

        self.plot_widget = pg.PlotWidget(background="w")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.getViewBox().setAspectLocked(True)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self.density = DensityImage()
        self.trails = segment_lines(pen=pg.mkPen(30, 90, 200, 70))
        self.points = GLPointsItem(size=3.0, color=(0.12, 0.4, 0.8, 0.6))
        self.circles = [pg.PlotCurveItem(pen=pg.mkPen(200, 40, 20, 200, width=2)) for _ in "12"]
        for item in (self.density, self.trails, self.points, *self.circles):
            self.plot.addItem(item, ignoreBounds=True)
        lay.addWidget(self.plot_widget, 3)
        self.hist_widget = pg.PlotWidget(background="w")
        self.hist_plot = self.hist_widget.getPlotItem()
        self.hist_plot.setLabel("bottom", "x coordinate")
        self.hist_plot.addLegend(offset=(5, 5))
        self.hist = pg.PlotCurveItem(
            x=np.zeros(1), y=np.zeros(0), stepMode="center", fillLevel=0,
            brush=(30, 90, 200, 90), name="particles",
        )  # fmt: skip
        self.ref = pg.PlotCurveItem(pen=pg.mkPen(200, 40, 20, width=2), name="reference")
        self.hist_plot.addItem(self.hist)
        self.hist_plot.addItem(self.ref)
        lay.addWidget(self.hist_widget, 1)
        for w in (self.process, self.theta, self.sigma, self.duration, self.steps, self.n):
            sig = getattr(w, "currentIndexChanged", None) or w.valueChanged
            sig.connect(lambda *_: self.run())

    @staticmethod
    def _spin(value, lo, hi, tip) -> QtWidgets.QDoubleSpinBox:
        s = QtWidgets.QDoubleSpinBox(minimum=lo, maximum=hi, value=value, singleStep=0.1)
        s.setDecimals(2)
        s.setToolTip(tip)
        return s

    # ----------------------------------------------------------------- running
    def request(self) -> PlaygroundRequest:
        target = self._target()
        return PlaygroundRequest(
            self._generation,
            self.process.currentData(),
            self.n.value(),
            self.steps.value(),
            self.duration.value(),
            self.theta.value(),
            self.sigma.value(),
            0,
            getattr(target, "exact", None),
            tuple(getattr(target, "bounds", (-3.5, 3.5, -3.5, 3.5))),
        )

    def run(self) -> None:
        """Start a simulation for the current settings on the worker thread."""
        self._generation += 1
        req = self.request()
        if self._future is not None:
            self._future.cancel()  # not started yet: never runs (a running one becomes stale)
        self._future = self._pool.submit(simulate, req)
        self.status.setText(f"simulating {LABELS[req.process]} ...")

    def _tick(self) -> None:
        f = self._future
        if f is not None and f.done():
            self._future = None
            try:
                res = f.result()
            except Exception as e:  # noqa: BLE001 - shown to the user, never a traceback
                self.status.setText(f"could not simulate: {e}")
                return
            if res.generation == self._generation:
                self._show_result(res)
        if self.result is not None:
            k = len(self.result.t)
            self.frame = min(self.frame + max(1, round(k * TICK_MS / 1000 / PLAY_S)), k - 1)
            self._draw_frame(self.frame)

    def _show_result(self, res: PlaygroundResult) -> None:
        self.result, self.frame = res, 0
        target = self._target()
        bounds = getattr(target, "bounds", (-3.5, 3.5, -3.5, 3.5))
        if res.density is not None:
            self.density.set_density(res.density, bounds)
            self.density.setVisible(True)
        else:
            self.density.setVisible(False)
        theta = np.linspace(0, 2 * np.pi, 200)
        for k, c in enumerate(self.circles, start=1):
            if res.stationary_var is None:
                c.clear()
            else:
                r = k * np.sqrt(res.stationary_var)
                c.setData(r * np.cos(theta), r * np.sin(theta))
        self.ref.setData(res.ref_x, res.ref_pdf)
        span = max(bounds[1] - bounds[0], bounds[3] - bounds[2])
        cx, cy = (bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2
        self.plot.getViewBox().setRange(
            xRange=(cx - span / 2, cx + span / 2), yRange=(cy - span / 2, cy + span / 2), padding=0
        )
        extra = (
            f"; stationary variance σ²/2θ = {res.stationary_var:.3f}"
            if res.stationary_var is not None
            else ""
        )
        self.status.setText(
            f"{LABELS[res.process]}: {res.xs.shape[1]} particles, simulated in "
            f"{res.seconds:.2f} s{extra}"
        )

    def _draw_frame(self, i: int) -> None:
        res = self.result
        x = res.xs[i]
        self.points.setData(x)
        lo = max(0, i - TRAIL)
        if i - lo >= 1:
            p = res.xs[lo : i + 1, :TRAIL_PARTICLES]
            pairs = np.stack([p[:-1], p[1:]], 2).reshape(-1, 2)
            self.trails.setData(x=pairs[:, 0], y=pairs[:, 1], connect="pairs", skipFiniteCheck=True)
        else:
            self.trails.clear()
        lo_x, hi_x = float(res.ref_x[0]), float(res.ref_x[-1])
        counts, edges = np.histogram(x[:, 0], bins=60, range=(lo_x, hi_x))
        width = edges[1] - edges[0]
        self.hist.setData(edges, counts / max(1, len(x)) / width)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)
