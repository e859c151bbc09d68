"""Reflow in the app (issue 14, couplings): Run > "Reflow from the current model" and a
"Reflow" button beside the coupling combo.

One round: the compute side draws pairs (x_0, ODE(x_0)) from the current model (train/reflow.py,
the 'reflow' request kind: no torch on the GUI thread), then a new training session starts from
the current weights and trains on those fixed pairs (x_t = alpha_t x_1 + beta_t x_0, target
d_alpha_t x_1 + d_beta_t x_0). Pressing it again draws the pairs of the reflowed model: round 2,
and so on. The straightness line under the explorer then shows the gap KE - C shrinking; the label
beside the button says the round and the gap before it. Reset weights ends reflow (the coupling
combo's choice again).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from ..train.reflow import ODE_STEPS, PAIRS, ReflowRequest
from .actions import add_action
from .controllers.requests import RequestChannel

TEXT = "Reflow from the current model"
TOOLTIP = (
    "<p><b>Reflow</b> (rectified flow): draw pairs (x<sub>0</sub>, x<sub>1</sub> = "
    f"ODE(x<sub>0</sub>)) from the current model ({PAIRS} pairs, {ODE_STEPS} Heun steps, "
    "x<sub>0</sub> ~ p<sub>init</sub>), then keep training from its weights on those fixed "
    "pairs: x<sub>t</sub> = α<sub>t</sub> x<sub>1</sub> + β<sub>t</sub> x<sub>0</sub>, target "
    "α′<sub>t</sub> x<sub>1</sub> + β′<sub>t</sub> x<sub>0</sub>. Each round straightens the "
    "paths: the kinetic energy KE = ∫ E‖u<sub>t</sub>(X<sub>t</sub>)‖² dt approaches the "
    "transport cost C = E‖X<sub>1</sub> − X<sub>0</sub>‖² (the straightness line), so fewer "
    "Euler steps suffice. Velocity objective only; Reset weights ends it.</p>"
)
POLL_MS = 50


class ReflowControl(QObject):
    """The reflow rounds of a MainWindow ``win``: ``start()`` asks the compute side for the pairs;
    their arrival starts round ``round`` (a session whose trainer trains on ``pairs``)."""

    #: a round started: its number
    roundStarted = Signal(int)  # noqa: N815 - Qt signal naming

    def __init__(self, win, parent=None) -> None:
        super().__init__(parent)
        self.win = win
        self.round = 0
        self.pairs = None  # the PairBank of the current round (None: no reflow)
        self.before: dict | None = None  # the straightness of the model the pairs came from
        self._pending = None  # pairs for the session the factory makes next
        self.was_running = False
        self._drawing = False
        self.requests = RequestChannel(win.worker, ("reflow",), self)
        self.requests.resultReady.connect(self._on_result)
        self.requests.failed.connect(self._on_failed)
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._on_poll)
        factory = win.sessions._factory

        def with_pairs(**overrides):
            session = factory(**overrides)
            pairs, self._pending = self._pending, None
            if pairs is not None:
                session.set_pairs(pairs)
            else:  # a session made any other way (Reset, a setting): no reflow any more
                self.round, self.pairs, self.before = 0, None, None
                self._show()
            return session

        win.sessions._factory = with_pairs
        self.button = QPushButton("Reflow")
        self.button.setToolTip(TOOLTIP)
        self.button.clicked.connect(self.start)
        self.label = QLabel("")
        self.label.setToolTip(TOOLTIP)
        self.label.setStyleSheet("color:#555;")

    @property
    def busy(self) -> bool:
        """True while the pairs are being drawn."""
        return self._drawing

    def start(self) -> bool:
        """Draw the current model's pairs on the compute side (False, said in the status bar,
        when there is no model yet or pairs are being drawn)."""
        win = self.win
        snap = win.sessions.snapshot
        if snap is None:
            win.statusBar().showMessage("reflow: train a model first (T), then reflow it", 6000)
            return False
        if snap.config.parameterization != "velocity":
            win.statusBar().showMessage(
                "reflow trains the velocity only: choose the velocity objective", 6000
            )
            return False
        if self.busy:
            return False
        self.was_running = win.sessions.running
        win.sessions.pause()
        self.requests.submit("reflow", lambda gen: ReflowRequest(gen, snap), urgent=True)
        self._drawing = True
        self.button.setEnabled(False)
        self.label.setText(f"reflow: drawing {PAIRS} pairs (x₀, ODE(x₀)) at step {snap.step}…")
        self._poll.start()
        return True

    def _on_poll(self) -> None:
        self.requests.poll()
        if not self.requests.stale("reflow"):
            self._poll.stop()

    def _on_failed(self, text: str) -> None:
        worker = self.win.worker
        if self._drawing and not worker.working_on("reflow"):
            self._drawing = False  # (the error may be another kind's: only if none is coming)
            self.requests.invalidate("reflow")
            self._poll.stop()
            self.button.setEnabled(True)
            self._show()
            self.win.statusBar().showMessage(f"reflow failed: {text}", 8000)

    def _on_result(self, kind: str, res) -> None:
        win = self.win
        self._drawing = False
        self.button.setEnabled(True)
        snap = win.sessions.snapshot
        if res.error or snap is None:
            self._show()
            win.statusBar().showMessage(f"reflow: {res.error or 'the model is gone'}", 8000)
            if self.was_running and snap is not None:
                win.sessions.toggle()  # go on training as before
            return
        pairs = res.pairs()
        self._pending = pairs
        if not win.sessions.adopt(snap.state_dict, None, step=0):
            self._pending = None
            return
        self.round += 1
        self.pairs, self.before = pairs, res.before
        win.curves.set_loss(np.zeros(0), np.zeros(0), win.floor)
        win.sessions.toggle()  # train the round now
        self._show()
        line = getattr(win, "straightness", None)
        if line is not None:  # a measurement of the model before the round is not this round's
            line.restart(f"straightness of reflow round {self.round}: measuring…")
        win.statusBar().showMessage(
            f"reflow round {self.round}: training on {len(pairs)} pairs (x₀, ODE(x₀)) of the "
            f"model at step {res.step} (drawn in {res.seconds:.1f} s)", 8000
        )  # fmt: skip
        self.roundStarted.emit(self.round)

    def _show(self) -> None:
        if self.round == 0:
            self.label.setText("")
            return
        gap = (self.before or {}).get("gap")
        extra = "" if gap is None else f", gap KE − C before: {gap:.3f}"
        self.label.setText(f"reflow round {self.round}{extra}")


def install(win) -> ReflowControl:
    """``win.reflow``: the Run menu action and the button + label under the coupling combo."""
    ctl = win.reflow = ReflowControl(win, win)
    menu = next(
        (a.menu() for a in win.menuBar().actions()
         if a.menu() is not None and a.text().replace("&", "") == "Run"),
        None,
    )  # fmt: skip
    if menu is None:
        menu = win.menuBar().addMenu("&Run")
    ctl.action = add_action(win, menu, TEXT, ctl.start, tip="pairs (x₀, ODE(x₀)) from the "
                            "current model, then training on them: straighter paths")  # fmt: skip
    form = win.training_panel.findChild(QFormLayout)
    if form is not None:
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(ctl.button)
        lay.addWidget(ctl.label, 1)
        at = next(
            (r + 1 for r in range(form.rowCount())
             if (item := form.itemAt(r, QFormLayout.ItemRole.FieldRole)) is not None
             and item.widget() is getattr(win, "coupling_combo", None)),
            form.rowCount(),
        )  # fmt: skip
        form.insertRow(at, "", row)
    return ctl


__all__ = ["ReflowControl", "TOOLTIP", "install"]
