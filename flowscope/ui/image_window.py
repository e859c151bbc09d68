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
from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..core.device import available_devices
from ..core.images import ImageDataError, load_image_dataset
from ..state import ImageState, parse_ws
from ..train.compute import ImageRequest
from ..train.compute_process import make_compute_worker
from ..train.priority import TRAINER_NICE
from . import formulas as F
from .controllers import RequestChannel, SessionController
from .controllers.exports import ImageExports
from .controllers.image_models import ImageModelFiles
from .image_panels import DATASET_HINT, ImageDataPanel, ImageSamplingPanel, ImageTrainingPanel
from .image_view import ImageGridView
from .menus import build_image_menus
from .panels import CurvesPanel
from .window_base import FlowscopeWindow, fitted_size

TICK_MS = 100
REFRESH_WHILE_TRAINING_S = 2.0  # a new grid at most this often while training
STRIP_FRAMES = 6
TRAINING_KEYS = ("objective", "schedule", "channels", "batch_size", "lr", "ema", "device")
SAMPLING_KEYS = (
    "ws", "per_cell", "steps", "solver", "sde", "sigma", "sigma_schedule", "seed",
    "strip_label", "strip_w",
)  # fmt: skip


class ImageWindow(FlowscopeWindow):
    image_mode = True

    def __init__(self, state: ImageState | None = None, ask_to_save: bool = True):
        super().__init__(ask_to_save)
        self.state = state or ImageState()
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
        self._step_submitted = -1
        self._last_refresh = 0.0
        self._sampling_dirty = False
        self._reloading = False
        self._loaded_shape = (self.state.size, self.state.color)
        self.exports = ImageExports(self)
        self.model_files = ImageModelFiles(self)
        self.model_files.modelAdopted.connect(self._on_model_adopted)
        self._build_widgets()
        self.sessions.runningChanged.connect(self.training_panel.set_running)
        self.sessions.trained.connect(self._update_training_status)  # train_steps(n)
        build_image_menus(self)
        self._connect_state()
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_tick)
        self.load_dataset(self.state.dataset)
        self.timer.start()
        self.resize(*fitted_size(self, 1480, 900))  # a laptop screen (1366 x 768) fits it

    @property
    def session(self):
        """The training session (None before the first Train / Step); see SessionController."""
        return self.sessions.session

    # ================================================================== construction
    def _build_widgets(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 6, 6)
        self.data_panel = ImageDataPanel(self.state)
        self.data_panel.digitsClicked.connect(lambda: self.load_dataset("digits"))
        self.data_panel.openClicked.connect(self.open_dataset_dialog)
        lv.addWidget(self.data_panel)
        # what tests and the scripted screenshots read
        self.size_spin, self.color_combo = self.data_panel.size_spin, self.data_panel.color_combo
        self.real_view = self.data_panel.real_view
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
        if not self.model_files.confirm_discard():
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
        self.data_panel.show_dataset(ds)
        self.sampling_panel.set_classes(ds.class_names)
        if ds.num_classes and not 0 <= self.state.strip_label < ds.num_classes:
            self.state.set(strip_label=0)
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

    def _on_model_adopted(self) -> None:
        self._update_training_status()
        self._request_images(force=True)

    # ================================================================== training
    def _make_session(self, mc=None):
        from ..core.models import ModelConfig
        from ..train.process_session import ProcessTrainingSession
        from ..train.session import TrainingSession
        from ..train.trainer import TrainConfig

        s, ds = self.state, self.dataset
        from ..core.images.unet import unet_size

        size = unet_size(ds.shape)  # levels and attention by the data (8x8: the small net)
        mc = mc or ModelConfig(
            arch="unet", image_shape=ds.shape, channels=s.channels, levels=size["levels"],
            attention=size["attention"], parameterization=s.objective, num_classes=ds.num_classes,
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

    #: where sampled weights come from when not the training session (File > Follow a run
    #: sets the follower's; None: the session's)
    snapshot_source = None

    def snapshot(self):
        """The weights the image views sample now (None before any training)."""
        source = self.snapshot_source
        return self.sessions.snapshot if source is None else source()

    # ================================================================== sampling
    def image_request(self, generation: int) -> ImageRequest | None:
        snap = self.snapshot()
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

    def request_images(self, force: bool = False) -> None:
        """Sample new images from the current weights (``force``: now, not throttled)."""
        self._request_images(force)

    def _request_images(self, force: bool = False) -> None:
        snap = self.snapshot()
        if snap is None:
            return
        now = time.perf_counter()
        if not force:
            if self.worker.busy or now - self._last_refresh < REFRESH_WHILE_TRAINING_S:
                return
            if snap.step == self._step_submitted:
                return
        # forced: a control changed (urgent: the trainer yields until it is answered)
        if self.requests.submit("images", self.image_request, settings=force) is None:
            return
        self._last_refresh, self._step_submitted = now, snap.step
        self.grid_view.set_stale(self.result is not None)

    def _connect_state(self) -> None:
        """One handler per field signal (state.events.<name>), held weakly by psygnal."""
        ev = self.state.events
        for name in ("size", "color"):
            ev[name].connect(partial(self._on_shape_setting, name))
        for name in SAMPLING_KEYS:
            ev[name].connect(self._mark_sampling_dirty)
        for name in TRAINING_KEYS + ("label_dropout",):
            ev[name].connect(self._on_training_setting)

    def _on_shape_setting(self, name: str) -> None:
        if self.dataset is not None and not self._reloading:
            self._reload_with_shape(name)

    def _mark_sampling_dirty(self) -> None:
        self._sampling_dirty = True

    def _on_training_setting(self) -> None:
        if self.sessions.mark_settings_changed():
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
        if self.snapshot() is not None:
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

    # ================================================================== the model
    def current_model(self):
        snap = self.snapshot()
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

    # ================================================================== closing
    def shutdown(self) -> None:
        self.timer.stop()
        self.sessions.shutdown(timeout=4.0)
        self.worker.stop(timeout=4.0)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.model_files.confirm_discard():
            event.ignore()
            return
        self.timer.stop()
        self.worker.request_stop()  # abandoned before the autosave (see MainWindow.closeEvent)
        self.model_files.autosave()
        self.shutdown()
        event.accept()
