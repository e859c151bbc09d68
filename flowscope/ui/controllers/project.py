"""ProjectFiles: the 2D window's project file (drawing, settings, weights and loss history).

It owns the file's path and the unsaved mark (both shown in the window title: '*name ·
flowscope'), File > New / Open / Save / Save as, the Save / Discard / Cancel question before
work is dropped, and the last session kept for the next launch (autosaved on close, moved aside
when the user chose Discard). Opening never executes code (state.project reads zip + json +
safetensors).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog

from ...core.data import Drawing
from ...core.schedules import SCHEDULE_NAMES
from ..window_base import last_session_path

FILTER = "flowscope project (*.flowscope)"
READ_POLL_MS = 15  # how often the window looks whether File > Open has read the file


class ProjectFiles(QObject):
    """``window`` is the MainWindow (state, canvas, sessions, set_target_source, current_model,
    session_model_config, reset_training)."""

    #: saved weights were adopted: a session now continues from them
    modelAdopted = Signal()  # noqa: N815 - Qt signal naming
    #: a project read on a worker thread (open_project_later) was applied (True) or not
    opened = Signal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        #: the next launch restores this session (off in scripted mode and tests)
        self.autosave_enabled = True
        #: the user chose Discard at the last maybe_save(): nothing of this session is kept
        self.discarded = False
        self._path: Path | None = None
        self._dirty = False
        self.path = None
        self._reader = None  # the thread that reads projects for File > Open
        self._reading = 0  # the latest open_project_later

    # ----------------------------------------------------------------- path and unsaved mark
    @property
    def path(self) -> Path | None:
        return self._path

    @path.setter
    def path(self, path: Path | None) -> None:
        self._path = None if path is None else Path(path)
        name = "untitled" if path is None else Path(path).name
        self.window.setWindowTitle(f"[*]{name} · flowscope")

    @property
    def dirty(self) -> bool:
        """Unsaved changes (shown as '*' in the title)."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        if bool(value) == self._dirty and self.window.isWindowModified() == self._dirty:
            return  # set on every state change: the title is re-set only when it changes
        self._dirty = bool(value)
        self.window.setWindowModified(self._dirty)

    # ----------------------------------------------------------------- save
    def save_project(self) -> bool:
        if self.path is None:
            return self.save_project_as()
        return self.save_to(self.path)

    def save_project_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save project", "untitled.flowscope", FILTER
        )
        if not path:
            return False
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        """Write the project to ``path`` (atomically); it becomes the window's file."""
        from ...state.project import save_project

        win = self.window
        model = win.current_model()
        hist = None
        if win.session is not None:
            h = win.session.history
            hist = {"steps": list(h.steps), "losses": list(h.losses)}
        settings = win.state.to_dict()
        settings["playing"] = False
        try:
            self.path = save_project(path, settings, win.canvas.drawing().to_dict(), model, hist,
                                     source_drawing=_source_drawing(win))  # fmt: skip
        except (OSError, ValueError, RuntimeError) as e:  # full disk, read-only folder, ...
            win.show_error("Could not save the project", str(e))
            return False
        self.dirty = False
        win.statusBar().showMessage(f"saved {self.path}", 4000)
        return True

    # ----------------------------------------------------------------- open, new
    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open project", "", f"{FILTER};;All files (*)"
        )
        if path:
            self.open_project_later(path)

    def open_project(self, path: str | Path) -> bool:
        """Read and apply a project now (scripted mode, the command line, tests)."""
        try:
            proj, drawing = _read_project(path)
        except Exception as e:  # noqa: BLE001 - _read_project says which ones are the user's
            return self._read_failed(e)
        return self._apply_project(path, proj, drawing)

    def open_project_later(self, path: str | Path) -> None:
        """File > Open: the file is read (zip, JSON, safetensors, building the network: 25-50
        ms of CPU, and file I/O) on a worker thread; the window applies it when it is read.
        ``opened`` is emitted then (True, or False when it could not be opened)."""
        from concurrent.futures import ThreadPoolExecutor

        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="flowscope-open")
        self._reading += 1
        job, future = self._reading, self._reader.submit(_read_project, path)

        def poll() -> None:
            if job != self._reading:
                return  # a later open replaced this one
            if not future.done():
                QTimer.singleShot(READ_POLL_MS, poll)
                return
            try:
                proj, drawing = future.result()
            except Exception as e:  # noqa: BLE001 - _read_failed re-raises what is not ours
                self.opened.emit(self._read_failed(e))
                return
            # the target and settings now, the saved weights in the next turn of the event
            # loop: the views' repaint for the new target and the new session's start (with
            # the loss curve's redraw) were one 80-180 ms stretch of the GUI thread
            self._apply_project(path, proj, drawing, then=self.opened.emit)

        QTimer.singleShot(READ_POLL_MS, poll)

    def _read_failed(self, e: Exception) -> bool:
        from ...state.project import ProjectError

        if not isinstance(e, (ProjectError, ValueError, KeyError, TypeError)):
            raise e
        self.window.show_error("Cannot open the project", str(e))
        return False

    def _apply_project(self, path, proj, drawing, then=None) -> bool:
        """Apply a read project; with ``then``, the weights are adopted in a later turn of the
        event loop and ``then(True)`` is called after (the file is already the window's)."""
        win = self.window
        _detach_field(win)
        win.sessions.discard()
        win.canvas.set_drawing(drawing)
        _set_source_drawing(win, getattr(proj, "source_drawing", None))  # issue 14
        settings = dict(proj.settings)
        source = settings.pop("target_source", "two_moons")
        try:
            win.state.update_from_dict(settings)
        except (ValueError, AttributeError) as e:
            win.show_error("Some settings could not be restored", str(e))
        if not win.set_target_source(source):
            win.set_target_source("two_moons")
        win.drawing_loaded()  # set_drawing above is not a user's stroke: no target switch later
        self.path = Path(path)
        self.dirty = False

        def adopt() -> bool:
            adopted = proj.model is None or self._adopt_model(proj.model, proj.history)
            self.dirty = False  # the adoption's state changes are the file's
            note = "" if adopted else " without its model (it does not fit the target)"
            win.statusBar().showMessage(f"opened {path}{note}", 8000)
            return True

        if then is None:
            return adopt()
        # a timer (1 ms), not singleShot(0), which Qt 6 posts as an event: that would run in
        # the same pass over posted events as the views' repaints, with no input in between
        QTimer.singleShot(1, lambda: then(adopt()))
        return True

    def _adopt_model(self, model, history) -> bool:
        """Continue from saved weights: a session whose network starts from them. False (with
        a message) when the weights cannot continue on this target."""
        win = self.window
        try:
            win.state.set(
                objective=model.config.parameterization,
                width=model.config.width,
                depth=model.config.depth,
                schedule=model.schedule.name
                if model.schedule.name in SCHEDULE_NAMES
                else win.state.schedule,
            )
            want = win.session_model_config()
        except ValueError as e:
            win.show_error("The saved model does not fit this window", str(e))
            return False
        if model.config != want:  # the trainer would die on these weights
            win.show_error(
                "The saved model does not fit this target",
                f"it was trained for {model.config.num_classes} classes (dimension "
                f"{model.config.dim}), this target needs {want.num_classes}; its weights were "
                "not loaded: train again",
            )
            return False
        win.adopted_model = model
        if not win.sessions.adopt(model.net.state_dict(), history):
            return False
        self.modelAdopted.emit()
        return True

    def new_project(self) -> None:
        if not self.maybe_save():
            return
        win = self.window
        _detach_field(win)
        win.sessions.discard()
        win.canvas.set_drawing(Drawing())
        _set_source_drawing(win, None)
        self.path = None
        win.set_target_source("two_moons")
        win.reset_training(quiet=True)
        self.dirty = False

    # ----------------------------------------------------------------- before work goes
    def maybe_save(self) -> bool:
        """True when it is fine to discard the current work (``discarded`` is set when the
        user chose Discard: then nothing of this session is kept for the next launch)."""
        self.discarded = False
        if not self.dirty or not self.window.ask_to_save:
            return True
        ans = self.window.ask_save_or_discard(
            "Save your work?", "Save the drawing, settings and weights first?"
        )
        if ans == "cancel":
            return False
        if ans == "save":
            return self.save_project()
        self.discarded = True
        return True

    def keep_last_session(self) -> None:
        """On close: autosave for the next launch, or, after Discard, move the previous
        autosave aside (``.discarded-DATE``, never deleted): the next launch starts fresh."""
        path = last_session_path()
        if path is None or not self.autosave_enabled:
            return
        if self.discarded:
            from ...state.project import move_aside

            if path.exists():
                move_aside(path, "discarded")
            return
        try:
            keep, dirty = self.path, self.dirty
            self.save_to(path)
            self.path, self.dirty = keep, dirty
        except Exception:  # never block closing on the autosave
            pass


def _source_drawing(win) -> dict | None:
    """The canvas's source layer for the project file (None when nothing is drawn there)."""
    get = getattr(win.canvas, "source_drawing", None)
    drawing = get() if get is not None else None
    return drawing.to_dict() if drawing is not None and drawing.strokes else None


def _set_source_drawing(win, d: dict | None) -> None:
    """Put a project's source layer (checked by state.project_check) on the canvas; one that
    cannot be rebuilt is said and left empty (the rest of the project still opens)."""
    if not hasattr(win.canvas, "set_source_drawing"):
        return
    try:
        drawing = Drawing.from_dict(d) if d else Drawing()
    except ValueError as e:  # DataError
        win.show_error("The project's source drawing could not be restored", str(e))
        drawing = Drawing()
    win.canvas.set_source_drawing(drawing)


def _read_project(path):
    """(Project, Drawing) from a .flowscope file; raises ProjectError, ValueError, KeyError or
    TypeError for a file that is not one. Qt-free: runs on a worker thread."""
    from ...state.project import load_project

    proj = load_project(path)
    return proj, Drawing.from_dict(proj.drawing) if proj.drawing else Drawing()


def _detach_field(win) -> None:
    """Opening or starting a project ends showing an opened model (File > Open model)."""
    from ..external_field import detach_field

    detach_field(win)
