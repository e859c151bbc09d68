"""The source distribution p_init in the 2D explorer (issue 14, section 3).

A "source p_init" combo in the training panel (the standard Gaussian, or any preset: a
data-to-data bridge such as eight gaussians -> two moons), bound to ``AppState.source``. The
choice reaches

- training: the session factory hands the source mixture to the trainer (x_0 drawn from it;
  velocity objective only, as ``flowscope train --source``); a change resets the weights, since a
  field learned from another source does not transport this one;
- the explorer: X_0 is drawn from the source and the exact arrows / heatmap are the bridge
  oracle's (``ExactMarginal.bridge(source, target)``, independent coupling);
- a drawing (the canvas's source layer) or a point file: ``source_inputs.py``;
- the SDE view: the SDE dX = [u_t + (σ_t²/2) ∇log p_t] dt + σ_t dW and the score conversions
  assume a Gaussian source, so the SDE plot is covered by a note saying so and the score
  arrows are hidden, instead of drawing a wrong picture.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtWidgets import QComboBox, QFormLayout

from ..core.bridge import is_standard_gaussian
from .source_inputs import DRAWING, EMPTY_SOURCE, FILE, SOURCE_MAX_COMPONENTS, SourceInputs

GAUSSIAN = "gaussian"
SOURCE_TIP = (
    "<p>The source p<sub>init</sub> that X<sub>0</sub> is drawn from: x<sub>t</sub> = "
    "α<sub>t</sub> x<sub>1</sub> + β<sub>t</sub> x<sub>0</sub>, x<sub>0</sub> ~ p<sub>init</sub>, "
    "x<sub>1</sub> ~ p<sub>data</sub>. <b>N(0, I)</b> is the usual choice; a preset gives a "
    "data-to-data bridge. With the independent coupling the exact views stay closed form over "
    "the K<sub>src</sub> × K<sub>tgt</sub> component pairs (mean α<sub>t</sub>μ<sub>j</sub> + "
    "β<sub>t</sub>ν<sub>i</sub>, variance α<sub>t</sub>²h<sub>j</sub>² + β<sub>t</sub>²"
    "g<sub>i</sub>²). The score and the SDE are defined for a Gaussian source only. Training: "
    "velocity objective; a change resets the weights.</p><p><b>drawn source</b>: the orange "
    "strokes of the canvas's source layer (Draw: source p<sub>init</sub>); <b>point file</b>: "
    "csv/txt/npy points, as <code>flowscope train --source FILE</code>. Both become at most "
    f"{SOURCE_MAX_COMPONENTS} Gaussians (merged on a grid, weight, mean and spread kept).</p>"
)
#: the combo's text of the drawn and the file source (the file's name replaces FILE_ENTRY)
DRAWING_ENTRY, FILE_ENTRY = "drawn source (canvas)", "point file…"
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


#: the drawn and the file source of the window (``SourceInputs`` keeps them; one 2D window)
CUSTOM: dict = {}


def source_mixture(name: str):
    """The ExactMarginal of source ``name`` (data coordinates), None for N(0, I): a preset, or
    ``drawing`` / ``file``, the window's drawn or file source (None until there is one)."""
    if name in (DRAWING, FILE):
        return CUSTOM.get(name)
    return _preset_mixture(name)


@functools.lru_cache(maxsize=8)
def _preset_mixture(name: str):
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
        texts = {GAUSSIAN: "N(0, I)", DRAWING: DRAWING_ENTRY, FILE: FILE_ENTRY}
        self.combo.addItems([texts.get(v, v.replace("_", " ")) for v in self.values])
        self.combo.setToolTip(SOURCE_TIP)
        form = win.training_panel.findChild(QFormLayout)
        binder = getattr(win, "_story_binder", None)
        if binder is None:
            from .binding import Binder

            binder = win._story_binder = Binder(win.state)
        #: the fingerprint of the drawn / file source the trainer and the explorer last got
        self.applied_fingerprint: str | None = None
        self.inputs = SourceInputs(self, CUSTOM)
        binder.custom("source", self.combo, lambda v: self.sync_combo())
        self.combo.currentIndexChanged.connect(self._on_combo_changed)
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
        win.state.events.source.connect(self.apply)
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
        """The current source's ExactMarginal, None for N(0, I) (the drawn source is read from
        the canvas, the file source loaded when its path changed; raises when it cannot be)."""
        name = self.win.state.source
        if name == DRAWING:
            return self.inputs.drawn()
        if name == FILE:
            return self.inputs.file_mixture()
        return source_mixture(name)

    def gaussian(self) -> bool:
        return self.mixture() is None

    def title(self, name: str | None = None) -> str:
        """The source as the notes name it: a preset's name, 'drawn source', the file's name."""
        name = self.win.state.source if name is None else name
        if name == DRAWING:
            return "drawn source (orange, on the canvas)"
        if name == FILE:
            return f"point file {Path(self.win.state.source_file).name}"
        return name.replace("_", " ")

    def show_file_name(self, path: str) -> None:
        """The combo's file entry names the file (its tooltip the whole path)."""
        i = self.values.index(FILE)
        self.combo.setItemText(i, f"file: {Path(path).name}")
        self.combo.setItemData(i, str(path), QtCore.Qt.ItemDataRole.ToolTipRole)

    def sync_combo(self) -> None:
        """Show ``state.source`` in the combo (without emitting)."""
        blocker = QtCore.QSignalBlocker(self.combo)
        self.combo.setCurrentIndex(self.values.index(self.win.state.source))
        del blocker

    def _on_combo_changed(self, index: int) -> None:
        """A user's pick: a drawn source needs strokes, the file entry asks for a file."""
        value = self.values[index]
        if value == DRAWING and self.inputs.drawn() is None:
            self.sync_combo()
            canvas = self.win.canvas
            if hasattr(canvas, "set_layer"):
                canvas.set_layer("source")  # ready to draw it
            self.win.statusBar().showMessage(EMPTY_SOURCE, 8000)
            return
        if value == FILE and not self.inputs.file_path:
            self.sync_combo()
            self.inputs.choose_file()  # sets the source when the file is good
            return
        self.win.state.source = value

    def _sde_warning(self, _text: str = "") -> None:
        if not self.gaussian():
            self.win.centre.show_sde_warning(SDE_WARNING.format(name=self.title()))

    def apply(self, name: str) -> None:
        """Use source ``name`` (state.source): notes, labels, a fresh training session and the
        explorer's particles and arrows. A source that cannot be built is said and N(0, I)
        is used instead."""
        win = self.win
        try:
            mix = self.mixture()
        except Exception as e:  # noqa: BLE001 - a preset or file that fails: said, not raised
            win.show_error(f"Cannot use the source {self.title(name)}", str(e))
            QtCore.QTimer.singleShot(0, lambda: win.state.set(source=GAUSSIAN))
            return
        if mix is None and name == DRAWING:  # e.g. a project whose source layer is empty
            win.statusBar().showMessage(EMPTY_SOURCE, 8000)
            QtCore.QTimer.singleShot(0, lambda: win.state.set(source=GAUSSIAN))
        gaussian = mix is None
        self.applied_fingerprint = None if gaussian else mix.fingerprint
        title = self.title(name)
        self.cover.show_note("" if gaussian else SDE_NOTE.format(name=title))
        if self.label is not None:
            text = "standard Gaussian N(0, I)" if gaussian else title
            self.label.setText(SOURCE_LABEL.format(text=text))
        if gaussian:
            win.centre.show_sde_warning("")
        else:
            win.state.show_score = False  # the score arrows assume a Gaussian source
            self._sde_warning()
        if win.session is not None:
            win.reset_training(quiet=True)  # weights learned from another source: start over
        win.view.request_trajectories(preview=True)
        win.view.request_field()
        win.statusBar().showMessage(
            "source N(0, I)" if gaussian else f"source p_init = {title}: the exact views show the "
            "bridge (independent coupling); training: velocity objective", 8000
        )  # fmt: skip

    _changed = apply  # the name it had
