"""The image window's panels: the dataset, training (U-Net, EMA) and the sampler of the grid and
the trajectory strip. Each control has a tooltip with the formula behind it (MATH.md)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from ..state import ImageState, parse_ws
from ..state.app_state import CONTROL_RANGES
from . import formulas as F
from .binding import Binder
from .image_view import ImageGridView
from .panels import SIGMA_LABELS, SIGMA_SCHEDULES, SOLVERS, TrainControls, _combo

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


class ImageDataPanel(QGroupBox):
    """The dataset: its summary, digits / Open…, the image size and colour, one real image per
    class."""

    digitsClicked = Signal()  # noqa: N815 - Qt signal naming
    openClicked = Signal()  # noqa: N815

    def __init__(self, state: ImageState, parent=None):
        super().__init__("Data (real images, one per class)", parent)
        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setContentsMargins(8, 6, 8, 6)
        form.setVerticalSpacing(4)
        self.dataset_label = QLabel("")
        self.dataset_label.setWordWrap(True)
        form.addRow(self.dataset_label)
        row = QHBoxLayout()
        digits = QPushButton("digits")
        digits.setToolTip("scikit-learn's bundled 8x8 digits (offline)")
        digits.clicked.connect(self.digitsClicked)
        open_button = QPushButton("Open…")
        open_button.setToolTip(DATASET_HINT)
        open_button.clicked.connect(self.openClicked)
        row.addWidget(digits)
        row.addWidget(open_button)
        form.addRow(row)
        shape = QHBoxLayout()
        self.size_spin = QSpinBox(minimum=0, maximum=64, singleStep=4)
        self.size_spin.setSpecialValueText("as stored")
        self.size_spin.setToolTip("resize every image to size x size pixels (reloads the data)")
        self.color_combo = _combo(
            ["colour as stored", "grayscale", "RGB"], "1 or 3 channels (reloads the data)"
        )
        self._binder = Binder(state)
        self._binder.spin("size", self.size_spin)
        self._binder.combo("color", self.color_combo, ["auto", "grayscale", "rgb"])
        shape.addWidget(QLabel("size"))
        shape.addWidget(self.size_spin, 1)
        shape.addWidget(self.color_combo, 1)
        form.addRow(shape)
        self.real_view = ImageGridView("no data")
        self.real_view.setFixedHeight(130)
        self.real_view.setToolTip("real training images, one per class")
        form.addRow(self.real_view)

    def show_dataset(self, ds) -> None:
        """The summary line and one real image per class (two rows, white padding)."""
        c, h, w = ds.shape
        lo, hi = ds.value_range
        classes = f"{ds.num_classes} classes" if ds.num_classes else "no labels (unconditional)"
        self.dataset_label.setText(
            f"<b>{ds.name}</b>: {len(ds):,} images, {c}×{h}×{w}, {classes}, values {lo:g}…{hi:g}"
        )
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
