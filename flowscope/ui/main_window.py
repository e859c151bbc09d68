"""The flowscope main window: target canvas | ODE/SDE explorer | training, sampling, curves.

Threads (ARCHITECTURE.md): the TrainingSession trains on its thread and publishes snapshots; the
ComputeWorker turns (snapshot or exact field, frozen parameters) into trajectories and field grids
on its own thread; this GUI thread runs no torch math: a 60 Hz timer polls for results and hands
numpy arrays to the view items. Moving a slider only picks another precomputed frame or submits
a request that replaces any pending one (stale work is dropped, never queued).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from ..core.data import PRESETS, DataError, Drawing, load_target
from ..core.device import available_devices
from ..core.schedules import SCHEDULE_NAMES
from ..state import AppState
from ..train.compute_process import make_compute_worker
from . import formulas as F
from .actions import add_action
from .canvas import TargetCanvas
from .controllers import SessionController
from .controllers.explorer import ExplorerController
from .explorer import ExplorerView
from .panels import CurvesPanel, SamplingPanel, TrainingPanel

#: the trainer's priority: the same as the window's. The compute process takes idle CPU only
#: (SCHED_IDLE), so the trainer needs no lead over it; niced (5) it lost ~10% of its core to
#: the window's short bursts on two cores (bench/gui_soak.py: 0.89 -> 0.96 of a core).
TRAINER_NICE = 0
DRAWING_DEBOUNCE_MS = 300
MAX_DRAWING_CLASSES = 4
TRAINING_KEYS = (
    "objective",
    "schedule",
    "width",
    "depth",
    "batch_size",
    "lr",
    "device",
    "label_dropout",
)
TRAJECTORY_KEYS = (
    "steps",
    "solver",
    "sigma",
    "sigma_schedule",
    "drop_score_term",
    "n_particles",
    "w",
    "label",
    "seed",
    "particles_follow",
)
LAYER_KEYS = {
    "show_density": "density",
    "show_field": "field",
    "show_score": "score",
    "show_trails": "trails",
    "show_particles": "particles",
}


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None, ask_to_save: bool = True):
        super().__init__()
        self.state = state or AppState()
        self.ask_to_save = ask_to_save
        self.setWindowTitle("[*]untitled · flowscope")
        self.worker = make_compute_worker(num_threads=1)
        self.worker.start()
        self.sessions = SessionController(self._new_session, self)
        self.sessions.failed.connect(self._error)
        self.target = None
        self._project_path: Path | None = None
        self.dirty = False

        self._build_widgets()
        self.view = ExplorerController(
            self.state, self.explorer, self.worker, self.sessions, lambda: self.target,
            self._needed_classes, self,
        )  # fmt: skip
        self.view.targetDensity.connect(self.canvas.set_density)
        self.view.floorChanged.connect(lambda f: self.curves.set_floor(f, self.view.floor_stderr))
        self.view.qualityChanged.connect(self.curves.set_quality)
        self.view.statusDue.connect(self._update_training_status)
        self.view.sdeWarning.connect(self._on_sde_warning)
        self.view.failed.connect(
            lambda text: self.statusBar().showMessage(f"render error: {text}", 8000)
        )
        from .controllers.diagnostics import attach_diagnostics  # issue 13: a tab by the curves

        self.diagnostics = attach_diagnostics(self)
        self.sessions.runningChanged.connect(self.training_panel.set_running)
        self.sessions.sessionReplaced.connect(self._on_session_replaced)
        self._build_menus()
        self.state.subscribe(self._on_state_changed)
        self._drawing_timer = QTimer(self, singleShot=True, interval=DRAWING_DEBOUNCE_MS)
        self._drawing_timer.timeout.connect(self._on_drawing_settled)
        self.set_target_source(self.state.target_source)
        for key, layer in LAYER_KEYS.items():
            self.explorer.set_layer_visible(layer, bool(getattr(self.state, key)))
        self.view.start()
        self.resize(*fitted_size(self, 1560, 940))

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
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 6, 6)
        title = QLabel("<b>Target p<sub>data</sub></b> (t = 1)")
        lv.addWidget(title)
        row = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.addItems([p.replace("_", " ") for p in PRESETS] + ["my drawing"])
        self.preset_combo.setToolTip("a preset target, or your own drawing (draw below)")
        self.preset_combo.activated.connect(self._on_preset_combo_activated)
        row.addWidget(self.preset_combo, 1)
        imp = QPushButton("Import…")
        imp.setToolTip("an image (density ∝ darkness) or a point file (csv/npy, optional label)")
        imp.clicked.connect(self._on_import_clicked)
        row.addWidget(imp)
        lv.addLayout(row)
        self.canvas = TargetCanvas()
        self.canvas.setMinimumSize(240, 240)  # a laptop screen (1280 x 720) must fit the window
        self.canvas.drawingChanged.connect(self._on_canvas_drawing_changed)
        lv.addWidget(self.canvas, 1)
        hint = QLabel(
            "Draw with the left mouse button: your drawing becomes the target, even "
            "while training. Colours are classes (for guidance)."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color:#555;")
        lv.addWidget(hint)
        source = QLabel("Source p<sub>init</sub> (t = 0): standard Gaussian N(0, I)")
        source.setToolTip(F.tooltip(f"{F.sub('X', '0')} ~ N(0, I); the path is {F.PATH}"))
        lv.addWidget(source)

        # ---- centre: explorer + time bar
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 6, 0, 0)
        self.explorer = ExplorerView()
        cv.addWidget(self.explorer, 1)
        bar = QHBoxLayout()
        self.play_button = QPushButton()
        self.play_button.setFixedWidth(40)
        self._set_play_icon(self.state.playing)
        self.play_button.setToolTip("play / pause the time sweep t = 0 → 1 (Space)")
        self.play_button.clicked.connect(lambda: self.state.set(playing=not self.state.playing))
        bar.addWidget(self.play_button)
        bar.addWidget(QLabel("time t"))
        self.t_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.t_slider.setRange(0.0, 1.0)
        self.t_slider.setDecimals(2)
        self.t_slider.setToolTip(
            F.tooltip(
                f"t = 0: noise {F.sub('X', '0')} ~ N(0, I);  "
                f"t = 1: data {F.sub('X', '1')} ~ {F.sub('p', 'data')}.",
                F.PATH,
            )
        )
        self.t_slider.setValue(float(self.state.t))
        self.t_slider.valueChanged.connect(self._on_t_slider_moved)
        bar.addWidget(self.t_slider, 1)
        self.loop_box = QCheckBox("loop")
        self.loop_box.setToolTip("play t = 0 -> 1 again and again")
        self.loop_box.setChecked(self.state.loop)
        self.loop_box.toggled.connect(lambda on: self.state.set(loop=bool(on)))
        bar.addWidget(self.loop_box)
        cv.addLayout(bar)
        # on its own line: a long status beside the slider squeezed it to nothing at 1024 px
        self.status_label = QLabel("")
        self.status_label.setStyleSheet("color:#555;")
        cv.addWidget(self.status_label)
        self.sde_warning_label = QLabel("")
        self.sde_warning_label.setStyleSheet("color:#c0392b;")
        self.sde_warning_label.setWordWrap(True)
        self.sde_warning_label.setVisible(False)
        cv.addWidget(self.sde_warning_label)

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

    def _action(self, menu, text, slot, shortcut=None, tip=None, checkable=False) -> QAction:
        return add_action(self, menu, text, slot, shortcut, tip, checkable)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "&New project", self.new_project, "Ctrl+N")
        self._action(f, "&Open project…", self.open_project_dialog, "Ctrl+O")
        self._action(f, "&Save project", self.save_project, "Ctrl+S")
        self._action(f, "Save project &as…", self.save_project_as, "Ctrl+Shift+S")
        f.addSeparator()
        self._action(
            f,
            "&Import data…",
            self._on_import_clicked,
            "Ctrl+I",
            "an image or a point file as the target",
        )
        ex = f.addMenu("&Export")
        self._action(ex, "Model (safetensors + json)…", lambda: self.export_model("dir"))
        self._action(ex, "Model as torch.export (.pt2)…", lambda: self.export_model("pt2"))
        self._action(ex, "Model as ONNX…", lambda: self.export_model("onnx"))
        self._action(ex, "Samples (npy / csv)…", self.export_samples)
        self._action(ex, "View as PNG…", lambda: self.export_view("png"), "Ctrl+E")
        self._action(ex, "View as SVG…", lambda: self.export_view("svg"))
        from .animation import animation_formats

        kinds = ", ".join(f.upper() for f in animation_formats())
        self._action(ex, f"Animation t = 0 → 1 ({kinds})…", self.export_animation)
        self._action(ex, "Run as Python script…", self.export_run_script)
        f.addSeparator()
        self._action(
            f,
            "Image &mode (digits, MNIST, folders)…",
            self.open_image_mode,
            "Ctrl+Shift+I",
            "train a U-Net on images and watch classifier-free guidance",
        )
        f.addSeparator()
        self._action(f, "&Quit", self.close, "Ctrl+Q")

        e = mb.addMenu("&Edit")
        stack = self.canvas.undo_stack()
        undo = stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        redo = stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(undo)
        e.addAction(redo)

        v = mb.addMenu("&View")
        self._layer_actions = {}
        names = {
            "show_density": "Density heatmap p_t",
            "show_field": "Vector field arrows",
            "show_score": "Score arrows ∇log p_t",
            "show_trails": "Trails",
            "show_particles": "Particles",
        }
        for key, text in names.items():
            a = self._action(v, text, lambda on, k=key: self.state.set(**{k: on}), checkable=True)
            a.setChecked(bool(getattr(self.state, key)))
            self._layer_actions[key] = a

        r = mb.addMenu("&Run")
        self._action(r, "Train / pause", self.toggle_training, "T")
        self._action(
            r, "Play / pause time", lambda: self.state.set(playing=not self.state.playing), "Space"
        )
        self._action(r, "Reset weights", self.reset_training, "Ctrl+R")

        h = mb.addMenu("&Help")
        self._action(h, "Formula cheat-sheet", self.show_cheatsheet, "F1")
        self._action(h, "About flowscope", self.show_about)

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
        self.target = target
        self.state.set(target_source=source)
        name = target.name if source != "drawing" else "my drawing"
        idx = self.preset_combo.findText(name.replace("_", " "))
        if idx < 0 and source == "drawing":
            idx = self.preset_combo.count() - 1
        if idx >= 0:
            self.preset_combo.setCurrentIndex(idx)
        self.canvas.set_bounds(target.bounds)
        self.canvas.set_density(None)  # the new target's heatmap comes from the compute side
        self.explorer.set_bounds(target.bounds)
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

    def _on_drawing_settled(self) -> None:
        if self.canvas.drawing().is_empty:
            return
        self.set_target_source("drawing")

    def _on_import_clicked(self) -> None:
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
        mc = self._session_model_config()
        tc = TrainConfig(
            steps=None, batch_size=s.batch_size, lr=s.lr, schedule=s.schedule, device=s.device,
            label_dropout=s.label_dropout, num_threads=1, snapshot_hz=10.0, normalize="none",
        )  # fmt: skip
        if os.environ.get("FLOWSCOPE_TRAIN_PROCESS", "1") == "0":
            return TrainingSession(self.target, mc, tc)
        return ProcessTrainingSession(self.target, mc, tc, nice=TRAINER_NICE)

    def _session_model_config(self):
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

    def _snapshot(self):
        return self.sessions.snapshot

    # ================================================================== state
    def _on_state_changed(self, name: str, value) -> None:
        if name == "t":
            if abs(self.t_slider.value() - value) > 1e-9:
                self.t_slider.blockSignals(True)
                self.t_slider.setValue(float(value))
                self.t_slider.blockSignals(False)
            self.view.show_frame()
            self.view.field_follows_t()
        elif name == "playing":
            self._set_play_icon(bool(value))
        elif name in TRAJECTORY_KEYS:
            if name in ("w", "label"):  # the quality curve is measured against p(x | y)
                self.view.clear_quality()
            self.view.request_trajectories(preview=name == "n_particles")
            if name in ("sigma", "sigma_schedule", "drop_score_term", "w", "label"):
                self.view.request_field()
            if name == "drop_score_term":
                self.explorer.set_sde_title(bool(value))
        elif name in ("field_source", "guide_part"):
            self.view.request_field()
        elif name == "density_source":
            self.view.show_frame()
            self.view.request_field()
        elif name in LAYER_KEYS:
            self.explorer.set_layer_visible(LAYER_KEYS[name], bool(value))
            act = self._layer_actions.get(name)
            if act is not None and act.isChecked() != bool(value):
                act.setChecked(bool(value))
        elif name in TRAINING_KEYS:
            if name in ("objective", "schedule", "label_dropout"):
                self._compute_floor()
            if self.sessions.mark_settings_changed():
                self.statusBar().showMessage(f"{name} changed: press Reset to train with it", 5000)
        if name != "t":
            self.dirty = True

    def _set_play_icon(self, playing: bool) -> None:
        sp = QStyle.StandardPixmap
        icon = sp.SP_MediaPause if playing else sp.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_t_slider_moved(self, value: float) -> None:
        self.state.set(t=float(value), playing=False)

    def _update_training_status(self, curves: bool = True) -> None:
        if self.session is None:
            return
        if curves:
            self.curves.show_history(self.session.history, self.floor)
        self.training_panel.show_session(self.session, self.sessions.settings_changed)
        follows = self.view.follows
        if follows == "exact" and self._snapshot() is None:
            follows += " field until the network's first weights arrive"
        else:
            follows += " field"
        self.status_label.setText(f"particles follow the {follows}")

    def _on_sde_warning(self, text: str) -> None:
        """A red line under the explorer when the SDE's particles blew up (what to change)."""
        self.sde_warning_label.setText(text)
        self.sde_warning_label.setVisible(bool(text))

    def _on_session_replaced(self) -> None:
        """New or no weights (Reset, New, Open): no status of the old run may stay."""
        if self.session is None:
            self.training_panel.status.setText("not trained yet")
            self.status_label.setText("particles follow the exact field")
            self.curves.set_loss(np.zeros(0), np.zeros(0), None)
        self._compute_floor()  # the floor of what trains now (settings changed before Reset)

    # ================================================================== title
    @property
    def project_path(self) -> Path | None:
        return self._project_path

    @project_path.setter
    def project_path(self, path: Path | None) -> None:
        self._project_path = None if path is None else Path(path)
        name = "untitled" if path is None else Path(path).name
        self.setWindowTitle(f"[*]{name} · flowscope")

    @property
    def dirty(self) -> bool:
        """Unsaved changes (shown as '*' in the title)."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._dirty = bool(value)
        self.setWindowModified(self._dirty)

    # ================================================================== project files
    def _settings(self) -> dict:
        d = self.state.to_dict()
        d["playing"] = False
        return d

    def save_project(self) -> bool:
        if self.project_path is None:
            return self.save_project_as()
        return self._save_to(self.project_path)

    def save_project_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project", "untitled.flowscope", "flowscope project (*.flowscope)"
        )
        if not path:
            return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        from ..state.project import save_project

        model = self.current_model()
        hist = None
        if self.session is not None:
            h = self.session.history
            hist = {"steps": list(h.steps), "losses": list(h.losses)}
        try:
            self.project_path = save_project(
                path, self._settings(), self.canvas.drawing().to_dict(), model, hist
            )
        except (OSError, ValueError, RuntimeError) as e:  # full disk, read-only folder, ...
            self._error("Could not save the project", str(e))
            return False
        self.dirty = False
        self.statusBar().showMessage(f"saved {self.project_path}", 4000)
        return True

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", "", "flowscope project (*.flowscope);;All files (*)"
        )
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        from ..state.project import ProjectError, load_project

        try:
            proj = load_project(path)
            drawing = Drawing.from_dict(proj.drawing) if proj.drawing else Drawing()
        except (ProjectError, ValueError, KeyError, TypeError) as e:
            self._error("Cannot open the project", str(e))
            return False
        self.sessions.discard()
        self.canvas.set_drawing(drawing)
        settings = dict(proj.settings)
        source = settings.pop("target_source", "two_moons")
        try:
            self.state.update_from_dict(settings)
        except (ValueError, AttributeError) as e:
            self._error("Some settings could not be restored", str(e))
        if not self.set_target_source(source):
            self.set_target_source("two_moons")
        adopted = proj.model is None or self._adopt_model(proj.model, proj.history)
        self.project_path = Path(path)
        self.dirty = False
        note = "" if adopted else " without its model (it does not fit the target)"
        self.statusBar().showMessage(f"opened {path}{note}", 8000)
        return True

    def _adopt_model(self, model, history) -> bool:
        """Continue from saved weights: a session whose network starts from them. False (with
        a message) when the weights cannot continue on this target."""
        try:
            self.state.set(
                objective=model.config.parameterization,
                width=model.config.width,
                depth=model.config.depth,
                schedule=model.schedule.name
                if model.schedule.name in SCHEDULE_NAMES
                else self.state.schedule,
            )
            want = self._session_model_config()
        except ValueError as e:
            self._error("The saved model does not fit this window", str(e))
            return False
        if model.config != want:  # the trainer would die on these weights
            self._error(
                "The saved model does not fit this target",
                f"it was trained for {model.config.num_classes} classes (dimension "
                f"{model.config.dim}), this target needs {want.num_classes}; its weights were "
                "not loaded: train again",
            )
            return False
        self._adopted_model = model
        if not self.sessions.adopt(model.net.state_dict(), history):
            return False
        self._update_training_status()
        self.view.refresh_from_training(force=True)
        return True

    def new_project(self) -> None:
        if not self._maybe_save():
            return
        self.sessions.discard()
        self.canvas.set_drawing(Drawing())
        self.project_path = None
        self.set_target_source("two_moons")
        self.reset_training(quiet=True)
        self.dirty = False

    def current_model(self):
        snap = self._snapshot()
        if snap is None:
            # weights opened from a project, before the trainer has published them
            return getattr(self, "_adopted_model", None) if self.session is not None else None
        model = snap.to_model()
        model.metadata["training"] = self.session.trainer.summary()
        model.metadata["data"] = {
            "source": self.state.target_source,
            "bounds": list(self.target.bounds),
        }
        return model

    # ================================================================== exports
    def export_model(self, fmt: str) -> None:
        model = self.current_model()
        if model is None:
            self._error("Nothing to export yet", "Train first (press T): there are no weights.")
            return
        try:
            if fmt == "dir":
                path = QFileDialog.getExistingDirectory(self, "Export model into folder")
                if path:
                    model.save(path)
            else:
                suffix = {"pt2": "torch.export (*.pt2)", "onnx": "ONNX (*.onnx)"}[fmt]
                path, _ = QFileDialog.getSaveFileName(self, "Export model", f"model.{fmt}", suffix)
                if path:
                    from ..core.export import export_velocity

                    export_velocity(model, path, fmt)
        except (ValueError, OSError, RuntimeError) as e:
            self._error("Export failed", str(e))
            return
        if path:
            self.statusBar().showMessage(f"exported {path}", 4000)

    def export_run_script(self) -> None:
        """The current target, model, training and sampling settings as a standalone script."""
        from ..core.safeio import atomic_write
        from ..core.script_export import run_script
        from ..train.trainer import TrainConfig

        s = self.state
        path, _ = QFileDialog.getSaveFileName(self, "Export run", "run.py", "Python (*.py)")
        if not path:
            return
        tc = TrainConfig(
            steps=None, batch_size=s.batch_size, lr=s.lr, schedule=s.schedule, device=s.device,
            label_dropout=s.label_dropout, num_threads=1, normalize="none",
        )  # fmt: skip
        try:
            text = run_script(
                s.target_source, self._session_model_config(), tc,
                drawing=self.canvas.drawing() if s.target_source == "drawing" else None,
                train_steps=self.session.trainer.step_count if self.session else None,
                n=s.n_particles, steps=s.steps, solver=s.solver, sigma=s.sigma,
                sigma_schedule=s.sigma_schedule, w=s.w, y=s.label, seed=s.seed,
                drop_score_term=s.drop_score_term,
            )  # fmt: skip
            atomic_write(path, text)
        except (ValueError, OSError) as e:
            self._error("Export failed", str(e))
            return
        self.statusBar().showMessage(f"exported {path}", 4000)

    def export_samples(self) -> None:
        pos = self.current_positions()
        if pos is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export samples", "samples.npy", "NumPy (*.npy);;CSV (*.csv)"
        )
        if not path:
            return
        ode, _ = pos
        from ..core.safeio import atomic_write, save_npy

        try:
            if path.endswith(".csv"):
                fmt = dict(delimiter=",", header="x,y", comments="", fmt="%.6f")
                atomic_write(Path(path), lambda tmp: np.savetxt(tmp, ode, **fmt))
            else:
                atomic_write(Path(path), lambda tmp: save_npy(tmp, ode))
        except (OSError, ValueError) as e:
            self._error("Could not write the samples", str(e))
            return
        self.statusBar().showMessage(f"wrote {len(ode)} samples (ODE, t = {self.state.t:.2f})")

    def export_view(self, fmt: str, path: str | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export view", f"flowscope.{fmt}", f"{fmt.upper()} (*.{fmt})"
            )
            if not path:
                return False
        try:
            if fmt == "svg":
                from ..core.safeio import atomic_write

                atomic_write(Path(path), lambda tmp: self.explorer.export_svg(str(tmp)))
            else:
                from ..core.safeio import atomic_write

                img = self.explorer.render_image()

                def write(tmp: Path) -> None:
                    if not img.save(str(tmp)):
                        raise OSError(f"could not write {path}")

                atomic_write(Path(path), write)
        except (OSError, RuntimeError) as e:
            self._error("Export failed", str(e))
            return False
        self.statusBar().showMessage(f"exported {path}", 4000)
        return True

    #: frames of File > Export > Animation (t = 0 -> 1)
    animation_frames = 40

    def export_animation(self, path: str | None = None, frames: int | None = None) -> bool:
        """Ask for a .gif / .mp4 path (unless given), then render t = 0 -> 1 into it."""
        from .animation import animation_formats, export_animation

        frames = self.animation_frames if frames is None else int(frames)
        if path is None:
            formats = animation_formats()
            filters = ";;".join(f"{f.upper()} (*.{f})" for f in formats)
            path, chosen = QFileDialog.getSaveFileName(
                self, "Export animation", "flowscope.gif", filters
            )
            if not path:
                return False
            if not Path(path).suffix:  # no suffix typed: the chosen filter's
                path += "." + (formats[1] if chosen.startswith("MP4") else formats[0])
        try:
            from ..core.safeio import atomic_write

            atomic_write(Path(path), lambda tmp: export_animation(self, str(tmp), frames))
        except (OSError, RuntimeError, ValueError) as e:
            self._error("Animation export failed", str(e))
            return False
        self.statusBar().showMessage(f"exported {path}", 4000)
        return True

    # ================================================================== help
    def show_cheatsheet(self) -> None:
        from .help import cheatsheet_dialog

        cheatsheet_dialog(self, image_mode=False).exec()

    def show_about(self) -> None:
        from .. import __version__

        QMessageBox.about(
            self,
            "About flowscope",
            f"flowscope {__version__}: see and train flow matching and diffusion "
            "models, with the exact answer beside them.",
        )

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

    # ================================================================== errors, closing
    def _error(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text}", 8000)
        if self.ask_to_save:  # interactive: also a dialog
            QMessageBox.warning(self, title, text)
        self.last_error = f"{title}: {text}"

    def _maybe_save(self) -> bool:
        """True when it is fine to discard the current work (``_discarded`` is set when the
        user chose Discard: then nothing of this session is kept for the next launch)."""
        self._discarded = False
        if not self.dirty or not self.ask_to_save:
            return True
        ans = QMessageBox.question(
            self,
            "Save your work?",
            "Save the drawing, settings and weights first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        if ans == QMessageBox.StandardButton.Cancel:
            return False
        if ans == QMessageBox.StandardButton.Save:
            return self.save_project()
        self._discarded = True
        return True

    def shutdown(self) -> None:
        """Stop the timers and both worker threads (bounded: a few seconds at most)."""
        self.view.stop()
        if getattr(self, "_image_window", None) is not None:
            self._image_window.close()
        # the weights are saved (or discarded) before this: the trainer need not finish a step
        self.sessions.shutdown(timeout=1.0)
        self.worker.stop(timeout=4.0)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self._maybe_save():
            event.ignore()
            return
        if getattr(self, "_discarded", False):
            self._forget_last_session()
        else:
            self._autosave()
        self.shutdown()
        event.accept()

    def _forget_last_session(self) -> None:
        """Discard means discard: the next launch starts fresh. The previous autosave is moved
        aside (``.discarded-DATE``), never deleted."""
        from ..state.project import move_aside

        path = last_session_path()
        if path is not None and path.exists() and getattr(self, "autosave_enabled", True):
            move_aside(path, "discarded")

    def _autosave(self) -> None:
        """Keep the last session's project so the next launch restores it."""
        path = last_session_path()
        if path is None or not getattr(self, "autosave_enabled", True):
            return
        try:
            keep, dirty = self.project_path, self.dirty
            self._save_to(path)
            self.project_path, self.dirty = keep, dirty
        except Exception:  # never block closing on the autosave
            pass


class ControlColumn(QScrollArea):
    """A column of controls that scrolls vertically on short screens and is never narrower than
    its content plus the scroll bar (so no control is cut on the right)."""

    def __init__(self, content: QWidget):
        super().__init__()
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self):  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()
        bar = self.verticalScrollBar().sizeHint().width()
        hint.setWidth(self.widget().minimumSizeHint().width() + bar + 2)
        return hint


def fitted_size(win, width: int, height: int) -> tuple[int, int]:
    """(width, height), shrunk to the screen's available area (a laptop's 1366 x 768)."""
    screen = win.screen()
    if screen is None:
        return width, height
    geo = screen.availableGeometry()
    return min(width, geo.width()), min(height, geo.height())


def last_session_path() -> Path | None:
    """Where the last session is kept (FLOWSCOPE_HOME overrides; empty disables)."""

    home = os.environ.get("FLOWSCOPE_HOME")
    if home == "":
        return None
    base = Path(home) if home else Path.home() / ".local" / "share" / "flowscope"
    return base / "last-session.flowscope"
