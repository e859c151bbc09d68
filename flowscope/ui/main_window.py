"""The flowscope main window: target canvas | ODE/SDE explorer | training, sampling, curves.

Threads (ARCHITECTURE.md): the training session trains in its process and publishes snapshots;
the compute side turns them (or the exact field) into trajectories and field grids; this GUI
thread runs no torch math: a timer polls for results and hands numpy arrays to the views. A
slider picks another precomputed frame or submits a request replacing any pending one.
"""

from __future__ import annotations

import os
from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QSplitter, QVBoxLayout, QWidget

from ..core.data import PRESETS, DataError, load_target
from ..core.device import available_devices
from ..state import AppState
from ..train.compute_process import make_compute_worker
from ..train.priority import TRAINER_NICE
from .controllers import SessionController
from .controllers.explorer import ExplorerController
from .controllers.exports import ExplorerExports
from .controllers.project import ProjectFiles
from .explorer_column import ExplorerColumn
from .menus import build_main_menus
from .paint_turns import hold_paint
from .panels import CurvesPanel, SamplingPanel, TrainingPanel
from .target_panel import TargetPanel
from .window_base import ControlColumn, FlowscopeWindow, fitted_size

DRAWING_DEBOUNCE_MS = 300
MAX_DRAWING_CLASSES = 4
TRAINING_KEYS = (
    "objective", "schedule", "width", "depth", "batch_size", "lr", "device", "label_dropout",
    "coupling",
)  # fmt: skip
TRAJECTORY_KEYS = (
    "steps", "solver", "sigma", "sigma_schedule", "drop_score_term", "n_particles", "w", "label",
    "seed", "particles_follow",
)  # fmt: skip
LAYER_KEYS = {
    "show_density": "density",
    "show_field": "field",
    "show_score": "score",
    "show_trails": "trails",
    "show_particles": "particles",
}


class MainWindow(FlowscopeWindow):
    def __init__(self, state: AppState | None = None, ask_to_save: bool = True):
        super().__init__(ask_to_save)
        self.state = state or AppState()
        self.project = ProjectFiles(self)  # the file, the '*' in the title, the last session
        self.project.modelAdopted.connect(self._on_model_adopted)
        self.exports = ExplorerExports(self)
        self.worker = self._make_worker()
        self.worker.start()
        self.sessions = SessionController(self._new_session, self)
        self.sessions.failed.connect(self._error)
        self.target = None
        #: weights opened from a project (what current_model() gives until the trainer publishes)
        self.adopted_model = None

        self._build_widgets()
        self.view = ExplorerController(
            self.state, self.explorer, self.worker, self.sessions, lambda: self.target,
            self._needed_classes, self,
        )  # fmt: skip
        self.view.targetDensity.connect(self.canvas.set_density)
        self.view.floorChanged.connect(lambda f: self.curves.set_floor(f, self.view.floor_stderr))
        self.view.qualityChanged.connect(self.curves.set_quality)
        self.view.statusDue.connect(self._update_training_status)
        self.view.sdeWarning.connect(self.centre.show_sde_warning)
        self.view.failed.connect(
            lambda text: self.statusBar().showMessage(f"render error: {text}", 8000)
        )
        from .controllers.diagnostics import attach_diagnostics  # issue 13: a tab by the curves

        self.diagnostics = attach_diagnostics(self)
        self.sessions.runningChanged.connect(self.training_panel.set_running)
        self.sessions.sessionReplaced.connect(self._on_session_replaced)
        self.sessions.trained.connect(self._update_training_status)  # train_steps(n)
        self._layer_actions = build_main_menus(self)
        from .story import install  # issue 14: posterior lens (L), conditional path (C, Z)

        install(self)
        self._connect_state()
        self._drawing_timer = QTimer(self, singleShot=True, interval=DRAWING_DEBOUNCE_MS)
        self._drawing_timer.timeout.connect(self._on_drawing_settled)
        self.set_target_source(self.state.target_source)
        for key, layer in LAYER_KEYS.items():
            self.explorer.set_layer_visible(layer, bool(getattr(self.state, key)))
        self.view.start()
        self.resize(*fitted_size(self, 1560, 940))

    def _make_worker(self):  # ui/external_field.py's window computes in this process
        return make_compute_worker(num_threads=1)

    @property
    def session(self):
        """The training session (None before the first Train / Step); see SessionController."""
        return self.sessions.session

    # what the explorer shows, read through (ExplorerController holds it)
    requests = property(lambda self: self.view.requests)
    traj = property(lambda self: self.view.traj)
    field = property(lambda self: self.view.field)
    floor = property(lambda self: self.view.floor)
    floor_stderr = property(lambda self: self.view.floor_stderr)
    quality = property(lambda self: self.view.quality)
    timer = property(lambda self: self.view.timer)
    frame_times = property(lambda self: self.view.frame_times)

    def render_now(self, t: float | None = None) -> None:
        """Compute and show the particles and arrows now (scripted mode, exports)."""
        self.view.render_now(t)

    def current_positions(self):
        return self.view.current_positions()

    def field_request(self, generation: int, t: float | None = None):
        return self.view.field_request(generation, t)

    # ================================================================== construction
    def _build_widgets(self) -> None:
        # ---- left: the target
        left = TargetPanel()
        left.presetActivated.connect(self._on_preset_combo_activated)
        left.importClicked.connect(self.import_data_dialog)
        left.canvas.drawingChanged.connect(self._on_canvas_drawing_changed)
        self.target_panel, self.preset_combo, self.canvas = left, left.preset_combo, left.canvas

        # ---- centre: explorer, time bar, status lines
        self.centre = centre = ExplorerColumn(self.state)
        self.explorer, self.time_bar = centre.explorer, centre.time_bar
        self.play_button, self.t_slider = self.time_bar.play_button, self.time_bar.t_slider
        self.loop_box = self.time_bar.loop_box
        self._time_bar = self.time_bar.layout()  # story.install adds the lens box
        self.status_label, self.sde_warning_label = centre.status_label, centre.sde_warning_label

        # ---- right: panels
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 6, 6, 6)
        self.training_panel = TrainingPanel(self.state, available_devices())
        self.training_panel.trainClicked.connect(self.toggle_training)
        self.training_panel.stepClicked.connect(self._on_step_clicked)
        self.training_panel.resetClicked.connect(self.reset_training)
        self.sampling_panel = SamplingPanel(self.state)
        self.curves = CurvesPanel()
        rv.addWidget(self.training_panel)
        rv.addWidget(self.sampling_panel)
        rv.addWidget(self.curves, 1)
        # the control column scrolls on short screens instead of setting the window's height
        # (its ~900 px minimum pushed the time bar and the curves off a 768-px laptop screen)
        scroll = ControlColumn(right)
        self.control_scroll = scroll

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(centre)
        split.addWidget(scroll)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([380, 840, 360])
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)
        self.statusBar().showMessage("Press Train (T) to learn this target; Space plays time.")

    # ================================================================== target
    def set_target_source(self, source: str) -> bool:
        """Load a preset, a file, or "drawing"; on failure keep the current target."""
        try:
            if source == "drawing":
                target = self.canvas.drawing().to_target()
            else:
                target = load_target(source)
        except (DataError, ValueError, OSError) as e:
            self._error("Cannot use this target", str(e))
            return False
        self._apply_target(target, source)
        for note in getattr(target, "notes", ()):  # e.g. "subsampled to 20000 points"
            self.statusBar().showMessage(note, 8000)
        return True

    def _apply_target(self, target, source: str) -> None:
        self.sessions.hold_trainer()  # the redraw below takes a few turns of the GUI thread
        self.target = target
        self.state.set(target_source=source)
        self.target_panel.show_target(target.name, is_drawing=source == "drawing")
        self.canvas.set_bounds(target.bounds)
        self.canvas.set_density(None)  # the new target's heatmap comes from the compute side
        self.explorer.set_bounds(target.bounds)
        hold_paint(self.canvas)  # after the explorer's plots: new axes in each, one per turn
        self.sampling_panel.set_classes(target.class_names)
        if self.state.label >= (target.num_classes or 0):
            self.state.set(label=-1)
        self.view.clear_quality()
        self._compute_floor()
        if self.session is not None:
            if self._needed_classes() != self.session.trainer.model_config.num_classes:
                self.reset_training(quiet=True)
                self.statusBar().showMessage("new classes: training starts over", 4000)
            else:
                self.session.set_target(target)
        self.dirty = True
        self.view.request_trajectories(preview=True)
        self.view.request_field()

    def _needed_classes(self) -> int:
        if self.state.target_source == "drawing":
            return MAX_DRAWING_CLASSES if self.target.num_classes else 0
        return int(self.target.num_classes or 0)

    def _compute_floor(self) -> None:
        self.view.request_target_info()

    def _on_preset_combo_activated(self, index: int) -> None:
        if index == self.preset_combo.count() - 1:
            if self.canvas.drawing().is_empty:
                self.statusBar().showMessage("draw on the canvas to make your own target", 5000)
                return
            self.set_target_source("drawing")
        else:
            self.set_target_source(PRESETS[index])

    def _on_canvas_drawing_changed(self) -> None:
        self._drawing_timer.start()

    def drawing_loaded(self) -> None:
        """The canvas's drawing was set from a file (Open), not drawn: the target stays the one
        the file names (the debounced switch to "drawing" would replace it 300 ms later)."""
        self._drawing_timer.stop()

    def _on_drawing_settled(self) -> None:
        if self.canvas.drawing().is_empty:
            return
        self.set_target_source("drawing")

    def import_data_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import data",
            "",
            "Data (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.csv *.txt *.npy);;All files (*)",
        )
        if path:
            self.set_target_source(path)

    # ================================================================== training
    def _new_session(self, **overrides):
        """SessionController's factory: training runs in a child process (its own GIL) unless
        FLOWSCOPE_TRAIN_PROCESS=0."""
        from ..train.process_session import ProcessTrainingSession
        from ..train.session import TrainingSession
        from ..train.trainer import TrainConfig

        s = self.state
        mc = self.session_model_config()
        tc = TrainConfig(
            steps=None, batch_size=s.batch_size, lr=s.lr, schedule=s.schedule, device=s.device,
            label_dropout=s.label_dropout, num_threads=1, snapshot_hz=10.0, normalize="none",
            coupling=s.coupling,
        )  # fmt: skip
        if os.environ.get("FLOWSCOPE_TRAIN_PROCESS", "1") == "0":
            return TrainingSession(self.target, mc, tc)
        return ProcessTrainingSession(self.target, mc, tc, nice=TRAINER_NICE)

    def session_model_config(self):
        from ..core.models import ModelConfig

        s = self.state
        return ModelConfig(
            width=s.width, depth=s.depth, parameterization=s.objective,
            num_classes=self._needed_classes(),
        )  # fmt: skip

    def toggle_training(self) -> None:
        self.sessions.toggle()
        self.dirty = True
        if self.session is not None and self.session.trainer.device_message:
            self.statusBar().showMessage(self.session.trainer.device_message, 6000)

    def _on_step_clicked(self) -> None:
        self.sessions.step(1)
        self.view.refresh_from_training(force=True)

    def reset_training(self, quiet: bool = False) -> None:
        self.sessions.reset()
        self.curves.set_loss(np.zeros(0), np.zeros(0), self.floor)
        self.view.restart()
        if not quiet:
            self.statusBar().showMessage("weights reset", 3000)

    def snapshot(self):
        """The weights the views sample now (None before any training)."""
        return self.sessions.snapshot

    # ================================================================== state
    def _connect_state(self) -> None:
        """One handler per field signal (state.events.<name>); bound methods and partials of
        them, which psygnal holds weakly (a closed window is not kept alive by its state).
        The time bar follows t and playing by itself."""
        ev = self.state.events
        ev.t.connect(self._on_t_changed)
        ev.playing.connect(self.explorer.set_playing)  # '▶ playing' / '(paused)' in the views
        self.explorer.set_playing(self.state.playing)
        for name in TRAJECTORY_KEYS:
            ev[name].connect(partial(self._on_trajectory_setting, name))
        ev.field_source.connect(self.view.request_field)
        ev.guide_part.connect(self.view.request_field)
        ev.density_source.connect(self.view.show_frame)
        ev.density_source.connect(self.view.request_field)
        for name in LAYER_KEYS:
            ev[name].connect(partial(self._on_layer_setting, name))
        for name in TRAINING_KEYS:
            ev[name].connect(partial(self._on_training_setting, name))
        ev.all.connect(self._mark_dirty)

    def _on_t_changed(self) -> None:
        self.view.show_frame()
        self.view.field_follows_t()

    def _on_trajectory_setting(self, name: str, value) -> None:
        self.view.request_trajectories(preview=name == "n_particles")
        if name in ("sigma", "sigma_schedule", "drop_score_term", "w", "label"):
            self.view.request_field()
        if name == "drop_score_term":
            self.explorer.set_sde_title(bool(value))

    def _on_layer_setting(self, name: str, value: bool) -> None:
        self.explorer.set_layer_visible(LAYER_KEYS[name], bool(value))
        act = self._layer_actions.get(name)
        if act is not None and act.isChecked() != bool(value):
            act.setChecked(bool(value))

    def _on_training_setting(self, name: str) -> None:
        if name in ("objective", "schedule", "label_dropout"):
            self._compute_floor()
        if self.sessions.mark_settings_changed():
            self.statusBar().showMessage(f"{name} changed: press Reset to train with it", 5000)

    def _mark_dirty(self, info) -> None:
        if info.signal.name != "t":
            self.dirty = True

    def _update_training_status(self, curves: bool = True) -> None:
        if self.session is None:
            return
        if curves:
            self.curves.show_history(self.session.history, self.floor)
        self.training_panel.show_session(self.session, self.sessions.settings_changed)
        follows = self.view.follows
        if follows == "exact" and self.snapshot() is None:
            follows += " field until the network's first weights arrive"
        else:
            follows += " field"
        self.status_label.setText(f"particles follow the {follows}")

    def _on_session_replaced(self) -> None:
        """New or no weights (Reset, New, Open): no status of the old run may stay."""
        if self.session is None:
            self.training_panel.status.setText("not trained yet")
            self.status_label.setText("particles follow the exact field")
            self.curves.set_loss(np.zeros(0), np.zeros(0), None)
        self._compute_floor()  # the floor of what trains now (settings changed before Reset)

    # ================================================================== project
    @property
    def dirty(self) -> bool:
        """Unsaved changes (the '*' in the title); ProjectFiles keeps it."""
        return self.project.dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self.project.dirty = value

    def open_project(self, path) -> bool:
        """Open a .flowscope project (see ProjectFiles.open_project)."""
        return self.project.open_project(path)

    def _on_model_adopted(self) -> None:
        self._update_training_status()
        self.view.refresh_from_training(force=True)

    def current_model(self):
        snap = self.snapshot()
        if snap is None:
            # weights opened from a project, before the trainer has published them
            return self.adopted_model if self.session is not None else None
        model = snap.to_model()
        model.metadata["training"] = self.session.trainer.summary()
        model.metadata["data"] = {
            "source": self.state.target_source,
            "bounds": list(self.target.bounds),
        }
        return model

    def open_image_mode(self):
        """The image-mode window (one per main window; shown and raised again if open)."""
        from .image_window import ImageWindow

        win = getattr(self, "_image_window", None)
        if win is None or not win.isVisible():
            if win is not None:
                win.shutdown()
            win = self._image_window = ImageWindow(ask_to_save=self.ask_to_save)
        win.show()
        win.raise_()
        win.activateWindow()
        return win

    # ================================================================== closing
    def shutdown(self) -> None:
        """Stop the timers and both worker threads (bounded: a few seconds at most)."""
        self.view.stop()
        if getattr(self, "_image_window", None) is not None:
            self._image_window.close()
        # the weights are saved (or discarded) before this: the trainer need not finish a step
        self.sessions.shutdown(timeout=1.0)
        self.worker.stop(timeout=4.0)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.project.maybe_save():
            event.ignore()
            return
        # what the compute thread works on is abandoned first: the save below shares the GIL
        # with nothing (a starved computation made it wait minutes on a loaded machine)
        self.view.stop()
        self.worker.request_stop()
        self.project.keep_last_session()
        self.shutdown()
        event.accept()
