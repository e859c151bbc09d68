"""A line under the explorer with the learned flow's straightness beside the exact one's:
transport cost C = E||X_1 - X_0||^2 and kinetic energy KE = int E||u_t(X_t)||^2 dt (KE >= C,
equal for straight paths). Computed on the compute side ('straightness' requests, the least
urgent kind) at most every REFRESH_S while a model exists; the GUI only shows the numbers."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from ..train.straightness_request import StraightnessRequest
from .controllers.requests import RequestChannel
from .steady_label import ElidedLabel

REFRESH_S = 5.0
TOOLTIP = (
    "<p>Straightness of the ODE paths X<sub>t</sub> (Euler, 50 steps, 1000 particles from "
    "N(0, I)): transport cost C = E‖X<sub>1</sub> − X<sub>0</sub>‖² and kinetic energy "
    "KE = ∫ E‖u<sub>t</sub>(X<sub>t</sub>)‖² dt. KE ≥ C, with equality iff every path is a "
    "straight line at constant speed; a small gap KE − C means few Euler steps suffice. "
    "Minibatch OT (training panel) and reflow shrink it; 'exact' is the independent "
    "coupling's flow.</p>"
)


#: the line before the first measurement
WAITING = (
    f"straightness of the learned flow (C, KE): measured every {REFRESH_S:.0f} s once it has "
    "weights"
)


class StraightnessLine(QObject):
    def __init__(self, win, parent=None) -> None:
        super().__init__(parent)
        self.win = win
        # one steady line, shown from the start: a line that appeared with the first result
        # (and a QLabel asking for its text's width) moved the explorer above it, and both
        # plots and the colour bar repainted at their new size in one 35-50 ms stretch
        self.label = ElidedLabel(WAITING)
        self.label.setStyleSheet("color:#555;")
        self.label.setToolTip(TOOLTIP)
        self.result = None
        self._asked_step = -1
        self.requests = RequestChannel(win.worker, ("straightness",), self)
        self.requests.resultReady.connect(self._on_result)
        self.timer = QTimer(self, interval=int(REFRESH_S * 1000))
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self._poll = QTimer(self, interval=100)
        self._poll.timeout.connect(self._on_poll)

    def restart(self, text: str = "") -> None:
        """New weights (a reflow round): measurements asked before are dropped when they come."""
        self.requests.invalidate("straightness")
        self._asked_step = -1
        self.result = None
        self.label.setText(text or WAITING)

    def tick(self) -> None:
        snap = self.win.sessions.snapshot
        if snap is None or getattr(snap, "source", None) is not None:
            return
        if snap.step == self._asked_step or self.win.worker.working_on("straightness"):
            return
        self._asked_step = snap.step
        exact = self.win.target.exact
        self.requests.submit("straightness", lambda gen: StraightnessRequest(gen, snap, exact))
        self._poll.start()

    def _on_poll(self) -> None:
        self.requests.poll()
        if not self.requests.stale("straightness"):
            self._poll.stop()

    def _on_result(self, kind: str, res) -> None:
        self.result = res
        lr, ex = res.learned, res.exact
        self.label.setText(
            f"straightness at step {res.step}: learned C = {lr['transport_cost']:.2f}, "
            f"KE = {lr['kinetic_energy']:.2f}, gap {lr['gap']:.2f} · exact gap {ex['gap']:.2f}"
        )
        rnd = getattr(getattr(self.win, "reflow", None), "round", 0)
        if rnd:  # the model trains on the pairs of reflow round rnd
            self.label.setText(f"{self.label.text()} · reflow round {rnd}")
