"""Image mode: train a small U-Net on an image dataset and watch classifier-free guidance live.

Centre: a grid of samples (rows: classes y, columns: guidance scales w) regenerated from fixed
seeds whenever a sampling control moves or training has moved on, and one sample's trajectory
x_t from noise (t = 0) to data (t = 1). Left: the dataset and training. Right: the sampler and
the loss. Training runs in a child process, sampling on the compute worker's thread; this
(GUI) thread only turns finished arrays into pictures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from ..core.device import available_devices
from ..core.images import ImageDataError, load_image_dataset
from ..state import ImageState, parse_ws
from ..state.app_state import CONTROL_RANGES
from ..train.compute import ImageRequest
from ..train.compute_process import make_compute_worker
from . import formulas as F
from .actions import add_action
from .binding import Binder
from .controllers import RequestChannel, SessionController
from .image_view import ImageGridView
from .panels import (
    SCHEDULES,
    SIGMA_LABELS,
    SIGMA_SCHEDULES,
    SOLVERS,
    CurvesPanel,
    TrainControls,
    _combo,
    _form_group,
)

TICK_MS = 100
REFRESH_WHILE_TRAINING_S = 2.0  # a new grid at most this often while training
TRAINER_NICE = 0  # as the 2D window: the compute process takes idle CPU only
STRIP_FRAMES = 6
TRAINING_KEYS = ("objective", "schedule", "channels", "batch_size", "lr", "ema", "device")
SAMPLING_KEYS = (
    "ws", "per_cell", "steps", "solver", "sde", "sigma", "sigma_schedule", "seed",
    "strip_label", "strip_w",
)  # fmt: skip
DATASET_HINT = (
    "'digits' ships with scikit-learn (1797 8x8 images, 10 classes). You can also open a "
    "folder of PNG/JPEG images (one subfolder per class), an .npz file (x_train / y_train) "
    "or MNIST / Fashion-MNIST IDX files you already have. Nothing is downloaded."
)


class ImageTrainingPanel(TrainControls):
    """Objective, schedule, U-Net size, optimizer, EMA, label dropout; Train / Step / Reset."""

    def __init__(self, state: ImageState, devices: list[str], parent=None):
        super().__init__("Training", parent)
        form = self._begin_form(state)
        self.channels = QSpinBox(minimum=8, maximum=128, singleStep=8)
        self.channels.setToolTip(
            "U-Net base channels (2x at the lower resolution); time t and class y enter\n"
            "through embeddings, with one extra 'null' class for guidance"
        )
        self._binder.spin("channels", self.channels)
        form.addRow("U-Net channels", self.channels)
        self._add_optimizer_row(form, QSpinBox(minimum=8, maximum=2048, singleStep=32),
                                "images (with their z, eps, t) per optimizer step")  # fmt: skip
        self.ema = QCheckBox("EMA weights (0.999)")
        self.ema.setToolTip(
            F.tooltip(
                "sample with an exponential moving average of the weights,",
                f"{F.sub('θ', 'ema')} ← d {F.sub('θ', 'ema')} + (1 − d) θ, "
                "d = min(0.999, (1 + k) / (10 + k)) at step k:",
                "much cleaner images for the same training",
            )
        )
        self._binder.check("ema", self.ema)
        form.addRow("", self.ema)
        self._add_device_and_dropout(form, devices)
        self._finish(form, "not trained yet")


class ImageSamplingPanel(QGroupBox):
    """The sampler of the grid and the strip: w values, ODE / SDE, sigma, steps, seeds."""

    def __init__(self, state: ImageState, parent=None):
        super().__init__("Sampling", parent)
        self.state = state
        b = self._binder = Binder(state)
        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setContentsMargins(8, 6, 8, 6)
        form.setVerticalSpacing(4)
        self.ws_edit = QLineEdit(state.ws)
        self.ws_edit.setToolTip(
            F.tooltip(
                "the grid's columns: guidance scales w, separated by commas.",
                f"guided field: {F.CFG}",
                "w = 0: unconditional; w = 1: conditional; w &gt; 1: pushed towards class y",
            )
        )
        self.ws_edit.editingFinished.connect(self._on_ws_edited)
        self.ws_error = QLabel("")
        self.ws_error.setStyleSheet("color:#c62828;")
        self.ws_error.setWordWrap(True)
        self.ws_error.setVisible(False)
        form.addRow("w columns", self.ws_edit)
        form.addRow("", self.ws_error)
        self.mode = _combo(
            ["ODE (deterministic)", "SDE (stochastic)"],
            F.tooltip(f"ODE: {F.ODE}", f"SDE: {F.SDE}"),
        )
        b.combo("sde", self.mode, [False, True])
        form.addRow("sampler", self.mode)
        self.solver = _combo(SOLVERS, "ODE solver: Euler (1 evaluation / step), Heun (2), RK4 (4)")
        b.combo("solver", self.solver, SOLVERS)
        form.addRow("ODE solver", self.solver)
        sig = QHBoxLayout()
        self.sigma = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.sigma.setRange(*CONTROL_RANGES["sigma"])
        self.sigma.setDecimals(2)
        self.sigma.setToolTip(
            F.tooltip(f"SDE diffusion {F.SIGMA}: any {F.SIGMA} gives the same marginals {F.P_T}")
        )
        b.slider("sigma", self.sigma)
        self.sigma_schedule = _combo(SIGMA_LABELS, F.tooltip(f"how {F.SIGMA} changes with t"))
        b.combo("sigma_schedule", self.sigma_schedule, SIGMA_SCHEDULES)
        sig.addWidget(self.sigma, 1)
        sig.addWidget(self.sigma_schedule)
        form.addRow("σ (SDE)", sig)
        self.steps = QLabeledSlider(Qt.Orientation.Horizontal)
        self.steps.setRange(*CONTROL_RANGES["steps"])
        self.steps.setToolTip("integration steps from t = 0 to 1 (step size h = 1 / steps)")
        b.slider("steps", self.steps, int)
        form.addRow("steps", self.steps)
        seeds = QHBoxLayout()
        self.per_cell = QSpinBox(minimum=1, maximum=6)
        self.per_cell.setToolTip("samples per (class, w) cell, each from its own fixed noise")
        b.spin("per_cell", self.per_cell)
        self.seed = QSpinBox(minimum=0, maximum=10**6)
        self.seed.setToolTip(
            F.tooltip(
                f"the fixed noise {F.sub('X', '0')} ~ N(0, I) shared by every cell of the grid"
            )
        )
        b.spin("seed", self.seed)
        new = QPushButton("New noise")
        new.setToolTip("draw new starting noise (seed + 1) (N)")
        new.clicked.connect(lambda: state.set(seed=state.seed + 1))
        seeds.addWidget(self.per_cell)
        seeds.addWidget(QLabel("seed"))
        seeds.addWidget(self.seed, 1)
        seeds.addWidget(new)
        form.addRow("per cell", seeds)
        strip = QHBoxLayout()
        self.strip_label = _combo(["unconditional"], "the class y of the trajectory strip")
        self.strip_label.currentIndexChanged.connect(
            lambda i: state.set(strip_label=i - 1 if self._classes else -1)
        )
        lo, hi = CONTROL_RANGES["strip_w"]
        self.strip_w = QDoubleSpinBox(decimals=1, minimum=lo, maximum=hi, singleStep=0.5)
        self.strip_w.setToolTip("guidance scale w of the trajectory strip")
        b.spin("strip_w", self.strip_w)
        strip.addWidget(self.strip_label, 1)
        strip.addWidget(QLabel("w"))
        strip.addWidget(self.strip_w)
        form.addRow("strip class", strip)
        self._classes: list[str] = []
        b.custom("strip_label", self.strip_label, self._show_strip_label)

    def _show_strip_label(self, value: int) -> None:
        self.strip_label.setCurrentIndex(int(value) + 1 if self._classes else 0)

    def set_classes(self, names: list[str]) -> None:
        self._classes = list(names)
        self.strip_label.blockSignals(True)
        self.strip_label.clear()
        self.strip_label.addItem("unconditional")
        self.strip_label.addItems([f"y = {n}" for n in names])
        self.strip_label.blockSignals(False)
        self._show_strip_label(self.state.strip_label)

    def _on_ws_edited(self) -> None:
        text = self.ws_edit.text()
        try:
            parse_ws(text)
        except ValueError as e:
            self.ws_error.setText(str(e))
            self.ws_error.setVisible(True)
            return
        self.ws_error.setVisible(False)
        self.state.set(ws=text)


class ImageWindow(QMainWindow):
    def __init__(self, state: ImageState | None = None, ask_to_save: bool = True):
        super().__init__()
        self.state = state or ImageState()
        self.ask_to_save = ask_to_save
        self.setWindowTitle("flowscope: image mode (classifier-free guidance)")
        self.worker = make_compute_worker(num_threads=1)
        self.worker.start()
        self.requests = RequestChannel(self.worker, ("images",), self)
        self.requests.resultReady.connect(lambda kind, res: self._show_result(res))
        self.requests.failed.connect(
            lambda text: self.statusBar().showMessage(f"sampling failed: {text}", 8000)
        )
        self.sessions = SessionController(self._make_session, self)
        self.sessions.failed.connect(self._error)
        self.dataset = None
        self.result = None  # the ImageResult shown
        self.last_error: str | None = None
        self._step_submitted = -1
        self._last_refresh = 0.0
        self._sampling_dirty = False
        self._reloading = False
        self._loaded_shape = (self.state.size, self.state.color)
        self._build_widgets()
        self.sessions.runningChanged.connect(self.training_panel.set_running)
        self._build_menus()
        self.state.subscribe(self._on_state_changed)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_tick)
        self.load_dataset(self.state.dataset)
        self.timer.start()
        self.resize(1480, 900)

    @property
    def session(self):
        """The training session (None before the first Train / Step); see SessionController."""
        return self.sessions.session

    # ================================================================== construction
    def _build_widgets(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 6, 6)
        data_box, data_form = _form_group("Data (real images, one per class)")
        self.dataset_label = QLabel("")
        self.dataset_label.setWordWrap(True)
        data_form.addRow(self.dataset_label)
        row = QHBoxLayout()
        digits = QPushButton("digits")
        digits.setToolTip("scikit-learn's bundled 8x8 digits (offline)")
        digits.clicked.connect(lambda: self.load_dataset("digits"))
        open_button = QPushButton("Open…")
        open_button.setToolTip(DATASET_HINT)
        open_button.clicked.connect(self.open_dataset_dialog)
        row.addWidget(digits)
        row.addWidget(open_button)
        data_form.addRow(row)
        shape = QHBoxLayout()
        self.size_spin = QSpinBox(minimum=0, maximum=64, singleStep=4)
        self.size_spin.setSpecialValueText("as stored")
        self.size_spin.setToolTip("resize every image to size x size pixels (reloads the data)")
        self.color_combo = _combo(
            ["colour as stored", "grayscale", "RGB"], "1 or 3 channels (reloads the data)"
        )
        self._data_binder = Binder(self.state)
        self._data_binder.spin("size", self.size_spin)
        self._data_binder.combo("color", self.color_combo, ["auto", "grayscale", "rgb"])
        shape.addWidget(QLabel("size"))
        shape.addWidget(self.size_spin, 1)
        shape.addWidget(self.color_combo, 1)
        data_form.addRow(shape)
        self.real_view = ImageGridView("no data")
        self.real_view.setFixedHeight(130)
        self.real_view.setToolTip("real training images, one per class")
        data_form.addRow(self.real_view)
        lv.addWidget(data_box)
        self.training_panel = ImageTrainingPanel(self.state, available_devices())
        self.training_panel.trainClicked.connect(self.toggle_training)
        self.training_panel.stepClicked.connect(self._on_step_clicked)
        self.training_panel.resetClicked.connect(self.reset_training)
        lv.addWidget(self.training_panel)
        lv.addStretch(1)

        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(4, 6, 4, 4)
        self.grid_title = QLabel(
            "<b>Samples</b>: rows = class y, columns = guidance scale w, every cell from the "
            "same fixed noise"
        )
        self.grid_title.setToolTip(
            F.tooltip(
                f"guided field {F.CFG}:",
                "w = 0 ignores the class, w = 1 is the conditional model, w &gt; 1 exaggerates it",
            )
        )
        cv.addWidget(self.grid_title)
        self.grid_view = ImageGridView("Press Train (T). Samples from fixed seeds appear here "
                                       "as soon as the network has weights.")  # fmt: skip
        cv.addWidget(self.grid_view, 4)
        self.strip_title = QLabel(
            "<b>Trajectory</b> of one sample: x<sub>t</sub> from noise (t = 0) to data (t = 1)"
        )
        cv.addWidget(self.strip_title)
        self.strip_view = ImageGridView("")
        self.strip_view.setMinimumHeight(110)
        cv.addWidget(self.strip_view, 1)
        self.info_label = QLabel("")
        self.info_label.setStyleSheet("color:#555;")
        cv.addWidget(self.info_label)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(6, 6, 6, 6)
        self.sampling_panel = ImageSamplingPanel(self.state)
        rv.addWidget(self.sampling_panel)
        self.curves = CurvesPanel(with_floor=False, with_quality=False)
        rv.addWidget(self.curves, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        for w in (left, centre, right):
            split.addWidget(w)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 780, 360])
        self.setCentralWidget(split)
        self.statusBar().showMessage("Press Train (T): digits take shape within minutes on a CPU.")

    def _action(self, menu, text, slot, shortcut=None, tip=None, checkable=False) -> QAction:
        return add_action(self, menu, text, slot, shortcut, tip, checkable)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "Open &dataset…", self.open_dataset_dialog, "Ctrl+O", DATASET_HINT)
        self._action(f, "Use the &digits dataset", lambda: self.load_dataset("digits"))
        self._action(
            f, "Open &model…", self.open_model_dialog, "Ctrl+Shift+O",
            "continue training a saved image model (a folder with model.safetensors + model.json)",
        )  # fmt: skip
        self._action(
            f, "Continue the &last model", lambda: self.open_model(last_image_model_path()),
            tip="the model this window saved when it was last closed",
        )  # fmt: skip
        from .image_follow import follow_run_dialog, stop_following

        self._action(f, "&Follow a training run…", lambda: follow_run_dialog(self),
                     tip="sample the newest checkpoint of a run's folder, reloaded as it trains")
        self._action(f, "Stop following", lambda: stop_following(self))
        ex = f.addMenu("&Export")
        self._action(ex, "Model (safetensors + json)…", self.export_model, "Ctrl+Shift+E")
        self._action(ex, "Sample grid as PNG…", lambda: self.export_grid(None), "Ctrl+E")
        self._action(ex, "Samples as npy…", lambda: self.export_samples(None))
        self._action(ex, "Trajectory strip as PNG…", lambda: self.export_strip(None))
        f.addSeparator()
        self._action(f, "&Close", self.close, "Ctrl+W")
        r = mb.addMenu("&Run")
        self._action(r, "Train / pause", self.toggle_training, "T")
        self._action(r, "Step", self._on_step_clicked, "S")
        self._action(r, "New noise", lambda: self.state.set(seed=self.state.seed + 1), "N")
        self._action(r, "Reset weights", self.reset_training, "Ctrl+R")
        h = mb.addMenu("&Help")
        self._action(h, "Formula cheat-sheet", self.show_cheatsheet, "F1")

    def show_cheatsheet(self) -> None:
        from .help import cheatsheet_dialog

        cheatsheet_dialog(self, image_mode=True).exec()

    # ================================================================== data
    def open_dataset_dialog(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("Open an image dataset")
        box.setText(DATASET_HINT)
        folder = box.addButton("A folder…", QMessageBox.ButtonRole.AcceptRole)
        file = box.addButton("A file (.npz, IDX)…", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is folder:
            path = QFileDialog.getExistingDirectory(self, "Folder of images (class = subfolder)")
        elif box.clickedButton() is file:
            path, _ = QFileDialog.getOpenFileName(
                self, "Image dataset file", "", "Datasets (*.npz *ubyte *ubyte.gz);;All files (*)"
            )
        else:
            return
        if path:
            self.load_dataset(path)

    def load_dataset(self, source: str) -> bool:
        """Load 'digits', a folder, an .npz or an IDX file; on failure keep the current data."""
        if self.session is not None and self.session.step_count and not self._confirm_discard():
            return False
        try:
            gray = {"auto": None, "grayscale": True, "rgb": False}[self.state.color]
            ds = load_image_dataset(source, size=self.state.size or None, grayscale=gray)
        except (ImageDataError, ValueError, OSError) as e:
            self._error("Cannot use this dataset", str(e))
            return False
        self._stop_session()
        self.dataset = ds
        self._loaded_shape = (self.state.size, self.state.color)
        self.state.set(dataset=str(source))
        c, h, w = ds.shape
        lo, hi = ds.value_range
        classes = f"{ds.num_classes} classes" if ds.num_classes else "no labels (unconditional)"
        self.dataset_label.setText(
            f"<b>{ds.name}</b>: {len(ds):,} images, {c}×{h}×{w}, {classes}, values {lo:g}…{hi:g}"
        )
        self.sampling_panel.set_classes(ds.class_names)
        if ds.num_classes and not 0 <= self.state.strip_label < ds.num_classes:
            self.state.set(strip_label=0)
        self._show_real_examples()
        for note in ds.notes:
            self.statusBar().showMessage(note, 8000)
        self.reset_training(quiet=True)
        return True

    def _reload_with_shape(self, name: str) -> None:
        """Size or colour changed: reload the data (a new shape needs new weights)."""
        self._reloading = True
        try:
            if not self.load_dataset(self.state.dataset):
                self.state.set(size=self._loaded_shape[0], color=self._loaded_shape[1])
        finally:
            self._reloading = False

    def _show_real_examples(self) -> None:
        ds = self.dataset
        if ds.labels is None:
            x = ds.images[:10]
        else:
            idx = [int((ds.labels == k).nonzero()[0, 0]) for k in range(ds.num_classes)
                   if bool((ds.labels == k).any())][:12]  # fmt: skip
            x = ds.images[idx]
        x = x.numpy()
        cols = -(-len(x) // 2) if len(x) > 5 else len(x)
        pad = np.full((2 * cols - len(x), *x.shape[1:]), 1.0, np.float32) if len(x) > 5 else x[:0]
        x = np.concatenate([x, pad]).reshape(-1, cols, *x.shape[1:])  # two rows (white padding)
        self.real_view.set_images(x, (-1.0, 1.0))

    def open_model_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a saved image model (its folder)")
        if path:
            self.open_model(path)

    def open_model(self, path) -> bool:
        """Continue from a saved image model: its dataset must have the same image shape and
        classes (the dataset it names is loaded when the current one does not fit)."""
        from ..core.checkpoint import CheckpointError
        from ..core.flow_model import load

        if path is None or not Path(path).exists():
            self._error("No saved model", f"nothing at {path}: train and close image mode first")
            return False
        try:
            model = load(path)
        except (CheckpointError, ValueError, OSError) as e:
            self._error("Cannot open this model", str(e))
            return False
        if model.kind != "image":
            self._error("Not an image model", "this is a 2D model: open it in the main window")
            return False
        source = (model.metadata.get("data") or {}).get("source")
        if not self._fits(model) and source and source != self.state.dataset:
            self.load_dataset(source)
        if not self._fits(model):
            c, h, w = model.config.image_shape
            self._error(
                "The model does not fit this dataset",
                f"the model is for {c}x{h}x{w} images with {model.config.num_classes} classes; "
                "open that dataset first (File > Open dataset)",
            )
            return False
        if self.session is not None and self.session.step_count and not self._confirm_discard():
            return False
        cfg = model.config
        self.state.set(channels=cfg.channels, objective=cfg.parameterization,
                       schedule=model.schedule.name if model.schedule.name in SCHEDULES
                       else self.state.schedule)  # fmt: skip
        steps = int((model.metadata.get("training") or {}).get("steps") or 0)
        if not self.sessions.adopt(model.net.state_dict(), step=steps, mc=cfg):
            return False
        self._update_training_status()
        self._request_images(force=True)
        self.statusBar().showMessage(f"continuing from {path} (step {steps:,})", 6000)
        return True

    def _fits(self, model) -> bool:
        ds = self.dataset
        return (ds is not None and tuple(model.config.image_shape) == ds.shape
                and model.config.num_classes == ds.num_classes)  # fmt: skip

    # ================================================================== training
    def _make_session(self, mc=None):
        from ..core.models import ModelConfig
        from ..train.process_session import ProcessTrainingSession
        from ..train.session import TrainingSession
        from ..train.trainer import TrainConfig

        s, ds = self.state, self.dataset
        mc = mc or ModelConfig(
            arch="unet", image_shape=ds.shape, channels=s.channels,
            parameterization=s.objective, num_classes=ds.num_classes,
        )  # fmt: skip
        tc = TrainConfig(
            steps=None, batch_size=s.batch_size, lr=s.lr, schedule=s.schedule, device=s.device,
            label_dropout=s.label_dropout, ema_decay=0.999 if s.ema else None, num_threads=1,
            snapshot_hz=2.0, warmup_steps=0,
        )  # fmt: skip
        if os.environ.get("FLOWSCOPE_TRAIN_PROCESS", "1") == "0":
            return TrainingSession(ds, mc, tc)
        return ProcessTrainingSession(ds, mc, tc, nice=TRAINER_NICE)

    def toggle_training(self) -> None:
        if self.dataset is not None:
            self.sessions.toggle()

    def _on_step_clicked(self) -> None:
        if self.dataset is None or self.sessions.running:
            return
        self.sessions.step(1)
        if self.session is not None:
            self._update_training_status()
        self._request_images(force=True)

    def _stop_session(self) -> None:
        self.sessions.discard()

    def reset_training(self, quiet: bool = False) -> None:
        was_running = self.sessions.running
        self._stop_session()
        self._step_submitted = -1
        self.requests.invalidate("images")  # results of the old weights are stale
        self.result = None
        self.curves.set_loss(np.zeros(0), np.zeros(0), None)
        self.training_panel.status.setText("not trained yet")
        self.grid_view.set_message(
            "Press Train (T). Samples from fixed seeds appear here as soon as the network "
            "has weights: rows are classes, columns guidance scales w."
        )
        self.strip_view.set_message("")
        self.info_label.setText("")
        if was_running:
            self.toggle_training()
        if not quiet:
            self.statusBar().showMessage("weights reset", 3000)

    def _snapshot(self):
        return self.sessions.snapshot

    # ================================================================== sampling
    def image_request(self, generation: int) -> ImageRequest | None:
        snap = self._snapshot()
        if snap is None or self.dataset is None:
            return None
        s = self.state
        try:
            ws = parse_ws(s.ws)
        except ValueError:
            ws = (0.0, 1.0, 3.0)
        k = self.dataset.num_classes
        strip_y = s.strip_label if k and 0 <= s.strip_label < k else None
        return ImageRequest(
            generation, snap, tuple(range(k)), ws, s.per_cell, s.steps, s.solver,
            s.sigma if s.sde else 0.0, s.sigma_schedule, s.seed, strip_y, s.strip_w,
            STRIP_FRAMES,
        )  # fmt: skip

    def _request_images(self, force: bool = False) -> None:
        snap = self._snapshot()
        if snap is None:
            return
        now = time.perf_counter()
        if not force:
            if self.worker.busy or now - self._last_refresh < REFRESH_WHILE_TRAINING_S:
                return
            if snap.step == self._step_submitted:
                return
        if self.requests.submit("images", self.image_request) is None:
            return
        self._last_refresh, self._step_submitted = now, snap.step
        self.grid_view.set_stale(self.result is not None)

    def _on_state_changed(self, name: str, value) -> None:
        if name in ("size", "color") and self.dataset is not None and not self._reloading:
            self._reload_with_shape(name)
        elif name in SAMPLING_KEYS:
            self._sampling_dirty = True
        elif name in TRAINING_KEYS + ("label_dropout",) and self.sessions.mark_settings_changed():
            self._update_training_status()

    def _on_tick(self) -> None:
        if self._sampling_dirty:
            self._sampling_dirty = False
            self._request_images(force=True)
        if self.session is not None:
            self._update_training_status()
            self._request_images()  # throttled; nothing new while paused after a Step's snapshot
        self.requests.poll()  # the worker keeps only the newest request: never stale long

    def render_now(self) -> None:
        """Sample the grid and the strip on this thread and show them (scripted mode)."""
        if self._snapshot() is not None:
            self.requests.render_now("images", self.image_request)

    def _show_result(self, res) -> None:
        self.result = res
        ds = self.dataset
        cells = res.cells  # (rows, n_w, per, C, H, W)
        rows, nw, per = cells.shape[:3]
        flat = cells.reshape(rows, nw * per, *cells.shape[3:])
        if ds is not None and ds.num_classes and rows == ds.num_classes:
            row_labels = [f"y = {n}" for n in ds.class_names]
            col_labels = [f"w = {w:g}" for w in self._ws_of(res)]
        else:
            row_labels, col_labels = [], ["unconditional samples"]
            per = nw * per
        self.grid_view.set_images(flat, res.value_range, row_labels, col_labels, group=per)
        self.strip_view.set_images(res.strip[None], res.value_range, [],
                                   [f"t = {t:.2f}" for t in res.strip_t])  # fmt: skip
        s = self.state
        mode = f"SDE σ = {s.sigma:g} ({s.sigma_schedule})" if s.sde else f"ODE {s.solver}"
        self.info_label.setText(
            f"weights of step {res.step:,} · {mode}, {s.steps} steps · seed {s.seed} · "
            f"sampled in {res.seconds:.2f} s"
        )

    def _ws_of(self, res) -> tuple[float, ...]:
        try:
            ws = parse_ws(self.state.ws)
        except ValueError:
            ws = ()
        return ws if len(ws) == res.cells.shape[1] else tuple(range(res.cells.shape[1]))

    def _update_training_status(self) -> None:
        self.curves.show_history(self.session.history, None)
        self.training_panel.show_session(
            self.session, self.sessions.settings_changed, rate_decimals=1
        )

    # ================================================================== exports
    def current_model(self):
        snap = self._snapshot()
        if snap is None:
            return None
        model = snap.to_model()
        ds = self.dataset
        model.metadata["training"] = self.session.trainer.summary()
        model.metadata["data"] = {
            "source": self.state.dataset, "name": ds.name, "images": len(ds),
            "shape": list(ds.shape), "value_range": list(ds.value_range),
        }  # fmt: skip
        return model

    def _ask_path(self, title: str, default: str, filt: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, default, filt)
        return path

    def export_model(self, path: str | None = None) -> bool:
        model = self.current_model()
        if model is None:
            self._error("Nothing to export yet", "Train first (press T): there are no weights.")
            return False
        if path is None:
            path = QFileDialog.getExistingDirectory(self, "Export model into folder")
            if not path:
                return False
        try:
            out = model.save(path)
        except (OSError, ValueError, RuntimeError) as e:
            self._error("Export failed", str(e))
            return False
        self.statusBar().showMessage(f"saved the model to {out}", 5000)
        return True

    def _grid_images(self):
        if self.result is None:
            self._error("Nothing to export yet", "Train first (press T): there are no samples.")
            return None
        cells = self.result.cells
        return cells.reshape(-1, *cells.shape[3:]), cells.shape[1] * cells.shape[2]

    def export_grid(self, path: str | None = None) -> bool:
        got = self._grid_images()
        if got is None:
            return False
        path = path or self._ask_path("Export the sample grid", "samples.png", "PNG (*.png)")
        if not path:
            return False
        from ..core.render import save_image_grid

        x, nrow = got
        scale = max(1, 32 // x.shape[-2])
        try:
            save_image_grid(x, path, nrow, value_range=self.result.value_range, scale=scale)
        except (OSError, ValueError) as e:
            self._error("Could not write the picture", str(e))
            return False
        self.statusBar().showMessage(f"wrote {path} (rows: classes; columns: w)", 5000)
        return True

    def export_samples(self, path: str | None = None) -> bool:
        got = self._grid_images()
        if got is None:
            return False
        path = path or self._ask_path("Export the samples", "samples.npy", "NumPy (*.npy)")
        if not path:
            return False
        from ..core.safeio import atomic_write, save_npy

        try:
            atomic_write(Path(path), lambda tmp: save_npy(tmp, got[0]))
        except (OSError, ValueError) as e:
            self._error("Could not write the samples", str(e))
            return False
        self.statusBar().showMessage(
            f"wrote {got[0].shape[0]} images {tuple(got[0].shape[1:])} to {path} "
            "(class-major, then w, in the data's value range)", 6000,
        )  # fmt: skip
        return True

    def export_strip(self, path: str | None = None) -> bool:
        if self.result is None:
            self._error("Nothing to export yet", "Train first (press T).")
            return False
        path = path or self._ask_path("Export the trajectory", "trajectory.png", "PNG (*.png)")
        if not path:
            return False
        from ..core.render import save_image_grid

        x = self.result.strip
        try:
            save_image_grid(x, path, len(x), value_range=self.result.value_range,
                            scale=max(1, 32 // x.shape[-2]))  # fmt: skip
        except (OSError, ValueError) as e:
            self._error("Could not write the picture", str(e))
            return False
        return True

    # ================================================================== errors, closing
    def _error(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text}", 8000)
        if self.ask_to_save:
            QMessageBox.warning(self, title, text)
        self.last_error = f"{title}: {text}"

    def _confirm_discard(self) -> bool:
        """True when the trained weights may go (saved first if the user asks)."""
        if not self.ask_to_save:
            return True
        ans = QMessageBox.question(
            self, "Keep the trained model?",
            "The trained weights will be discarded. Export the model first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )  # fmt: skip
        if ans == QMessageBox.StandardButton.Cancel:
            return False
        if ans == QMessageBox.StandardButton.Save:
            return self.export_model()
        return True

    def shutdown(self) -> None:
        self.timer.stop()
        self.sessions.shutdown(timeout=4.0)
        self.worker.stop(timeout=4.0)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.session is not None and self.session.step_count and not self._confirm_discard():
            event.ignore()
            return
        self._autosave()
        self.shutdown()
        event.accept()

    def _autosave(self) -> None:
        """Keep the last trained image model (FLOWSCOPE_HOME/last-image-model)."""
        path = last_image_model_path()
        if path is None or self._snapshot() is None or not getattr(self, "autosave_enabled", 1):
            return
        try:
            self.current_model().save(path)
        except Exception:  # never block closing on the autosave
            pass


def last_image_model_path() -> Path | None:
    from .main_window import last_session_path

    base = last_session_path()
    return None if base is None else base.parent / "last-image-model"
