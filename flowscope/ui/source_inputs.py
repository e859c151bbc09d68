"""A drawn source and a point-file source p_init in the 2D window (issue 14, section 3).

Besides N(0, I) and the presets, the "source p_init" combo offers

- ``drawing``: the canvas's source layer (``LayeredCanvas``, "Draw: source p_init"). Its strokes
  become a Gaussian mixture exactly as the target drawing does (``Drawing.to_mixture``), merged
  on a grid into at most SOURCE_MAX_COMPONENTS components. Drawing on the source layer picks this
  source; every finished edit (stroke, eraser, Undo, Redo, Clear) re-trains and refreshes the
  explorer, as picking a preset does. An emptied layer falls back to N(0, I).
- ``file``: a point file (csv / txt / npy, or an image) read by the CLI's loader
  (``flowscope train --source FILE`` calls ``load_target(FILE).exact``), merged the same way.
  File > Source from point file… or the combo's "point file…" entry asks for it; a bad file is
  reported and changes nothing.

The exact views evaluate all K_src x K_tgt component pairs of the bridge (MATH.md), so the source
is kept to at most SOURCE_MAX_COMPONENTS components: each merged component keeps the weight,
mean and spread of the ones it replaces (``thin_components``), and the trainer, the explorer and
the oracle all use that one mixture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

#: components of a drawn or file source (the exact views cost K_src x K_tgt pairs per point)
SOURCE_MAX_COMPONENTS = 16
DRAWING, FILE = "drawing", "file"
SETTLE_MS = 300  # as the target drawing (main_window.DRAWING_DEBOUNCE_MS)
FILE_FILTER = (
    "Point files (*.csv *.txt *.npy);;Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;All files (*)"
)
FILE_ACTION = "Source from point file…"
FILE_TIP = (
    "X_0 ~ p_init read from a point file (csv/txt/npy, as flowscope train --source FILE), as "
    f"a Gaussian mixture of at most {SOURCE_MAX_COMPONENTS} components"
)
EMPTY_SOURCE = (
    "the source layer is empty: pick 'source p_init' above the canvas and draw the source there"
)


def thinned(mu, w, h, k: int = SOURCE_MAX_COMPONENTS):
    """The ExactMarginal of components (means (K, 2), weights (K,), widths (K,)), merged on a
    grid into at most ``k`` (weight, mean and spread kept; no classes)."""
    from ..core.data.drawing import thin_components
    from ..core.exact import ExactMarginal

    mu, w, h = (np.asarray(a, dtype=np.float64) for a in (mu, w, h))
    lab = np.zeros(len(mu), dtype=np.int64)
    mu, w, h, _ = thin_components(mu, w, h, lab, int(k))
    return ExactMarginal(mu, weights=w, widths=h)


def drawn_source(drawing):
    """The source layer's mixture, None when nothing drawn survives the erasers."""
    if drawing.is_empty:
        return None
    mu, w, h, _ = drawing.components()
    return thinned(mu, w, h)


def file_source(path: str | Path):
    """(mixture, notes) of a point file read as the CLI's --source FILE; DataError, ValueError
    or OSError saying what is wrong with the file."""
    from ..core.data import load_target

    target = load_target(str(path))
    ex = target.exact
    if ex.dim != 2:
        raise ValueError(f"{Path(path).name} is {ex.dim}-D; a 2D source needs 2 columns")
    mix = thinned(ex.means.numpy(), ex.weights.numpy(), ex.widths.numpy())
    notes = list(getattr(target, "notes", ()))
    if ex.n_components > mix.n_components:
        notes.append(
            f"{ex.n_components} points merged into {mix.n_components} Gaussians (exact views)"
        )
    return mix, notes


class SourceInputs:
    """The drawn and the file source of ``choice`` (a SourceChoice): keeps ``CUSTOM`` (what
    ``source_mixture('drawing' | 'file')`` returns) in step with the canvas and the file."""

    def __init__(self, choice, custom: dict) -> None:
        self.choice = choice
        self.win = win = choice.win
        self.custom = custom
        self.custom.clear()
        self.canvas = win.canvas
        self._user_edit = False
        #: the file whose mixture is custom["file"]
        self.file_path = ""
        self._timer = QTimer(win, singleShot=True, interval=SETTLE_MS)
        self._timer.timeout.connect(self._on_source_settled)
        if hasattr(self.canvas, "sourceDrawingChanged"):
            self.canvas.sourceDrawingChanged.connect(self._on_source_drawing_changed)
            self.canvas.sourceEdited.connect(self._on_source_edited)
        self.action = self._add_file_action()
        win.state.events.source_file.connect(self._on_source_file_changed)

    # ----------------------------------------------------------------- the drawing
    def source_drawing(self):
        from ..core.data import Drawing

        get = getattr(self.canvas, "source_drawing", None)
        return get() if get is not None else Drawing()

    def drawn(self):
        """The drawn source's mixture, None when nothing is drawn (one object per drawing:
        views that cache on it keep their cache until the drawing changes)."""
        if DRAWING not in self.custom:
            self.custom[DRAWING] = drawn_source(self.source_drawing())
        return self.custom[DRAWING]

    def _on_source_edited(self) -> None:
        self._user_edit = True

    def _on_source_drawing_changed(self) -> None:
        # cheap (a few ms): the explorer's next request sees the new mixture
        self.custom[DRAWING] = drawn_source(self.source_drawing())
        self._timer.start()

    def _on_source_settled(self) -> None:
        user, self._user_edit = self._user_edit, False
        state = self.win.state
        mix = self.custom.get(DRAWING)
        if state.source == DRAWING:
            if mix is None:
                self.win.statusBar().showMessage("the source layer is empty: source N(0, I)", 6000)
                state.source = "gaussian"
            elif mix.fingerprint != self.choice.applied_fingerprint:
                self.choice.apply(DRAWING)  # re-train and refresh, as a new preset does
        elif user and mix is not None:
            state.source = DRAWING  # drawing the source picks it

    # ----------------------------------------------------------------- the file
    def file_mixture(self):
        """The mixture of ``state.source_file`` (loaded when it changed); raises when it
        cannot be read."""
        path = self.win.state.source_file
        if not path:
            raise ValueError("no point file chosen: File > Source from point file…")
        if self.custom.get(FILE) is None or self.file_path != path:
            self.custom[FILE], _ = file_source(path)
            self.file_path = path
            self.choice.show_file_name(path)
        return self.custom[FILE]

    def _on_source_file_changed(self, _path: str) -> None:
        if self.win.state.source == FILE:  # another file (an opened project): once settled
            QTimer.singleShot(0, self._refresh_file)

    def _refresh_file(self) -> None:
        if self.win.state.source != FILE:
            return
        try:
            fingerprint = self.file_mixture().fingerprint
        except Exception:  # noqa: BLE001 - apply() says what is wrong and falls back
            fingerprint = None
        if fingerprint is None or fingerprint != self.choice.applied_fingerprint:
            self.choice.apply(FILE)

    def choose_file(self) -> bool:
        """Ask for a point file (the dialog File > Source from point file… opens) and use it."""
        path, _ = QFileDialog.getOpenFileName(self.win, "Source p_init", "", FILE_FILTER)
        return bool(path) and self.load_file(path)

    def load_file(self, path: str | Path) -> bool:
        """Use the point file ``path`` as the source; a file that cannot be read is reported
        (the source stays as it was)."""
        from ..core.data import DataError

        path = str(Path(path).expanduser())
        try:
            mix, notes = file_source(path)
        except (DataError, ValueError, OSError) as e:
            self.win.show_error("Cannot use this file as the source", str(e))
            self.choice.sync_combo()
            return False
        self.custom[FILE], self.file_path = mix, path
        self.choice.show_file_name(path)
        state = self.win.state
        changed = state.set(source_file=path, source=FILE)
        if "source" not in changed:
            self.choice.apply(FILE)  # the source was a file already: this one now
        if notes:
            self.win.statusBar().showMessage("; ".join(notes), 8000)
        return True

    def _add_file_action(self):
        from .actions import add_action

        menus = [a.menu() for a in self.win.menuBar().actions() if a.menu() is not None]
        file_menu = next((m for m in menus if m.title().replace("&", "") == "File"), None)
        if file_menu is None:
            return None
        action = add_action(self.win, file_menu, FILE_ACTION, self.choose_file, None, FILE_TIP)
        acts = file_menu.actions()
        imp = next((a for a in acts if a.text().replace("&", "").startswith("Import data")), None)
        if imp is not None and acts.index(imp) + 1 < len(acts) - 1:
            file_menu.removeAction(action)
            file_menu.insertAction(acts[acts.index(imp) + 1], action)  # under Import data…
        return action
