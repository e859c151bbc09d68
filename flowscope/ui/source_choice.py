"""The source distribution p_init in the 2D explorer (issue 14, section 3).

A "source p_init" combo in the training panel (the standard Gaussian, or any preset: a
data-to-data bridge such as eight gaussians -> two moons), bound to ``AppState.source``. The
choice reaches

- training: the session factory hands the source mixture to the trainer (x_0 drawn from it;
  velocity objective only, as ``flowscope train --source``); a change resets the weights, since a
  field learned from another source does not transport this one;
- the explorer: X_0 is drawn from the source and the exact arrows / heatmap are the bridge
  oracle's (``ExactMarginal.bridge(source, target)``, independent coupling);
- the SDE view: the SDE dX = [u_t + (σ_t²/2) ∇log p_t] dt + σ_t dW and the score conversions
  assume a Gaussian source, so the SDE plot is covered by a note saying so and the score
  arrows are hidden, instead of drawing a wrong picture.
"""

from __future__ import annotations

import functools

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtWidgets import QComboBox, QFormLayout

from ..core.bridge import is_standard_gaussian

GAUSSIAN = "gaussian"
SOURCE_TIP = (
    "<p>The source p<sub>init</sub> that X<sub>0</sub> is drawn from: x<sub>t</sub> = "
    "α<sub>t</sub> x<sub>1</sub> + β<sub>t</sub> x<sub>0</sub>, x<sub>0</sub> ~ p<sub>init</sub>, "
    "x<sub>1</sub> ~ p<sub>data</sub>. <b>N(0, I)</b> is the usual choice; a preset gives a "
    "data-to-data bridge. With the independent coupling the exact views stay closed form over "
    "the K<sub>src</sub> × K<sub>tgt</sub> component pairs (mean α<sub>t</sub>μ<sub>j</sub> + "
    "β<sub>t</sub>ν<sub>i</sub>, variance α<sub>t</sub>²h<sub>j</sub>² + β<sub>t</sub>²"
    "g<sub>i</sub>²). The score and the SDE are defined for a Gaussian source only. Training: "
    "velocity objective; a change resets the weights.</p>"
)
SDE_NOTE = (
    "The SDE is defined only for a Gaussian source p_init: its drift u_t + (σ_t²/2) ∇log p_t "
    "and the score conversions assume x_0 ~ N(0, I). Source: {name}. The ODE (left) "
    "transports this source exactly."
)
SOURCE_LABEL = "Source p<sub>init</sub> (t = 0): {text}"
SDE_WARNING = (
    "SDE undefined: the source p<sub>init</sub> is {name}, not Gaussian (the SDE view and the "
    "score arrows are off; the ODE view is exact)"
)


@functools.lru_cache(maxsize=8)
def source_mixture(name: str):
    """The ExactMarginal of source ``name`` (a preset; data coordinates), None for N(0, I)."""
    if name == GAUSSIAN:
        return None
    from ..core.data import load_target

    exact = load_target(name).exact
    return None if is_standard_gaussian(exact) else exact


def _row_of(form: QFormLayout, label: str) -> int:
    for r in range(form.rowCount()):
        item = form.itemAt(r, QFormLayout.ItemRole.LabelRole)
        if item is not None and getattr(item.widget(), "text", lambda: "")() == label:
            return r
    return -1


class SdeCover(QtWidgets.QGraphicsRectItem):
    """An opaque note over a ViewBox (pinned to it: ignores pan and zoom)."""

    def __init__(self, vb) -> None:
        super().__init__(vb)
        self._vb = vb
        self.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.setBrush(QtGui.QBrush(QtGui.QColor(250, 250, 250, 235)))
        self.setZValue(2000)
        self.text = QtWidgets.QGraphicsTextItem("", self)
        font = QtGui.QFont()
        font.setPointSizeF(10.5)
        self.text.setFont(font)
        self.text.setDefaultTextColor(QtGui.QColor(140, 30, 30))
        vb.sigResized.connect(self._fit)
        self.setVisible(False)

    def _fit(self, *_) -> None:
        r = self._vb.rect()
        self.setRect(r)
        self.text.setTextWidth(max(80.0, r.width() - 16))
        tr = self.text.boundingRect()
        self.text.setPos(
            max(4.0, (r.width() - tr.width()) / 2), max(4.0, (r.height() - tr.height()) / 2)
        )

    def show_note(self, text: str) -> None:
        self.text.setPlainText(text)
        self._fit()
        self.setVisible(bool(text))


class SourceChoice:
    """The combo, the trainer's source, the explorer's requests and the SDE note of ``win``."""

    def __init__(self, win) -> None:
        self.win = win
        self.values = list(win.state.choices("source"))
        self.combo = QComboBox()
        self.combo.addItems(["N(0, I)", *[v.replace("_", " ") for v in self.values[1:]]])
        self.combo.setToolTip(SOURCE_TIP)
        form = win.training_panel.findChild(QFormLayout)
        binder = getattr(win, "_story_binder", None)
        if binder is None:
            from .binding import Binder

            binder = win._story_binder = Binder(win.state)
        binder.combo("source", self.combo, self.values)
        if form is not None:
            row = _row_of(form, "coupling")
            row = row + 1 if row >= 0 else form.rowCount()
            form.insertRow(row, "source p_init", self.combo)
        plot = win.explorer.plots()[1]
        self.cover = SdeCover(plot.getViewBox())
        factory = win.sessions._factory

        def with_source(**overrides):
            session = factory(**overrides)
            src = self.mixture()
            if src is not None:
                session.set_source(src)
            return session

        win.sessions._factory = with_source
        win.state.events.source.connect(self._changed)
        win.view.sdeWarning.connect(self._sde_warning)  # after the window's own handler
        #: the target panel's line naming the source (under the canvas)
        self.label = next(
            (
                lab
                for lab in win.findChildren(QtWidgets.QLabel)
                if lab.text().startswith(SOURCE_LABEL.format(text=""))
            ),
            None,
        )

    def mixture(self):
        """The current source's ExactMarginal, None for N(0, I)."""
        return source_mixture(self.win.state.source)

    def gaussian(self) -> bool:
        return self.mixture() is None

    def _sde_warning(self, _text: str = "") -> None:
        if not self.gaussian():
            self.win._on_sde_warning(SDE_WARNING.format(name=self.win.state.source))

    def _changed(self, name: str) -> None:
        win = self.win
        try:
            gaussian = self.gaussian()
        except Exception as e:  # noqa: BLE001 - a preset that fails to build: said, not raised
            win.statusBar().showMessage(f"source {name!r}: {e}", 8000)
            return
        self.cover.show_note("" if gaussian else SDE_NOTE.format(name=name))
        if self.label is not None:
            text = "standard Gaussian N(0, I)" if gaussian else name.replace("_", " ")
            self.label.setText(SOURCE_LABEL.format(text=text))
        if gaussian:
            win._on_sde_warning("")
        else:
            win.state.show_score = False  # the score arrows assume a Gaussian source
            self._sde_warning()
        if win.session is not None:
            win.reset_training(quiet=True)  # weights learned from another source: start over
        win.view.request_trajectories(preview=True)
        win.view.request_field()
        win.statusBar().showMessage(
            "source N(0, I)" if gaussian else f"source p_init = {name}: the exact views show the "
            "bridge (independent coupling); training: velocity objective", 8000
        )  # fmt: skip
