"""Run > Steps curve: sample quality against the number of Euler steps (1 ... 64) for the current
model, computed on demand on the compute side (train/steps_curve.py), shown in a small window.
Each run adds a curve labelled with the model's coupling and source, so a user can train with
the independent coupling, measure, switch to minibatch OT, Reset, train, measure again, and
compare; the exact (independent-coupling) flow's curve is drawn dashed."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from ..train.steps_curve import STEP_COUNTS, StepsCurveRequest
from .controllers.requests import RequestChannel

TOOLTIP = (
    "<p>Energy distance of X<sub>1</sub> (Euler with k steps, 2000 particles from the source) "
    "to samples of p<sub>data</sub>, for k = 1, 2, 4, …, 64. Straight flows (minibatch OT, "
    "reflow) need far fewer steps; dashed: the exact independent-coupling flow.</p>"
)
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


class StepsCurveWindow(QDialog):
    """The curves measured so far (one per run) and a status line."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        self.setWindowTitle("Sample quality vs Euler steps · flowscope")
        self.resize(520, 380)
        lay = QVBoxLayout(self)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLogMode(x=True, y=True)
        self.plot.setLabel("bottom", "Euler steps k")
        ticks = [(math.log10(k), str(k)) for k in STEP_COUNTS]
        self.plot.getAxis("bottom").setTicks([ticks, []])
        self.plot.setLabel("left", "energy distance to p_data")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setToolTip(TOOLTIP)
        lay.addWidget(self.plot, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.results: list = []
        self.requests = RequestChannel(win.worker, ("steps",), self)
        self.requests.resultReady.connect(self._on_result)
        self.requests.failed.connect(lambda text: self.status.setText(f"failed: {text}"))
        self._poll = QTimer(self, interval=100)
        self._poll.timeout.connect(self._on_poll)

    def label(self) -> str:
        s = self.win.state
        coupling = {"ot": "minibatch OT"}.get(s.coupling, s.coupling)
        source = "N(0, I)" if s.source == "gaussian" else s.source.replace("_", " ")
        return f"{coupling}, {source}"

    def run(self) -> bool:
        """Ask for the current model's curve; False (and says why) without a model."""
        snap = self.win.sessions.snapshot
        if snap is None:
            self.status.setText("No model yet: train first (Train or Step), then run the curve.")
            return False
        exact, label = self.win.target.exact, f"{self.label()} @ step {snap.step}"
        self.requests.submit(
            "steps", lambda gen: StepsCurveRequest(gen, snap, exact, label=label), settings=True
        )
        self.status.setText(f"measuring {label} …")
        self._poll.start()
        return True

    def _on_poll(self) -> None:
        self.requests.poll()
        if not self.requests.stale("steps"):
            self._poll.stop()

    def _on_result(self, kind: str, res) -> None:
        self.results.append(res)
        color = COLORS[(len(self.results) - 1) % len(COLORS)]
        ks = [float(k) for k in res.steps]
        tiny = max(res.floor, 1e-6)  # log axis: nothing at or below 0
        self.plot.plot(ks, [max(v, tiny) for v in res.learned], pen=pg.mkPen(color, width=2),
                       symbol="o", symbolSize=6, symbolBrush=color, name=res.label)  # fmt: skip
        if len(self.results) == 1 or res.exact != self.results[-2].exact:
            self.plot.plot(ks, [max(v, tiny) for v in res.exact],
                           pen=pg.mkPen((120, 120, 120), width=1, style=pg.QtCore.Qt.DashLine),
                           name="exact flow (independent)")  # fmt: skip
        at2 = res.learned[res.steps.index(2)] if 2 in res.steps else math.nan
        self.status.setText(
            f"{res.label}: energy distance {res.learned[0]:.3f} at 1 step, {at2:.3f} at 2, "
            f"{res.learned[-1]:.3f} at {res.steps[-1]} (floor {res.floor:.4f})"
        )


def open_steps_curve(win) -> StepsCurveWindow:
    """The window of ``win`` (one), shown, with a new curve for the current model."""
    dlg = getattr(win, "steps_curve", None)
    if dlg is None:
        dlg = win.steps_curve = StepsCurveWindow(win)
    dlg.show()
    dlg.raise_()
    dlg.run()
    return dlg
