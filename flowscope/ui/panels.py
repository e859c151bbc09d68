"""The right-hand panels: training, sampling and the curves. Each control has a tooltip with the
formula behind it (MATH.md)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from ..core.schedules import get_schedule
from ..core.support import describe_excess
from ..state import AppState
from ..state.app_state import CHOICES, CONTROL_RANGES
from . import formulas as F
from .binding import Binder
from .diagnostics_maps import DIAGNOSTIC_LABELS, DIAGNOSTIC_TIP

# The choice lists come from the code that implements them (state.CHOICES reads core and the
# compute worker): a schedule added in core shows up here with its own label.
OBJECTIVES = list(CHOICES["objective"])
OBJECTIVE_TIPS = F.tooltip(
    "What the network predicts (MATH.md):",
    f"velocity (flow matching): {F.U_THETA}({F.X_T}, t) ≈ {F.D_ALPHA} z + {F.D_BETA} ε",
    f"score (denoising score matching): {F.S_THETA} ≈ −ε / {F.BETA}, loss weighted by",
    f"    λ(t) = {F.sup(F.BETA, '2')}: {F.LOSS_DSM_WEIGHTED} (unweighted, late times dominate",
    "    and the ODE samples of a score model are poor)",
    f"noise (DDPM): {F.EPS_THETA} ≈ ε, score = −{F.EPS_THETA} / {F.BETA}",
    F.DERIVATIVES,
)
SCHEDULES = list(CHOICES["schedule"])
_SHORT_SCHEDULE_LABELS = {
    "condot": "CondOT: α=t, β=1-t",
    "cosine": "cosine: α=sin(πt/2)",
    "vp": "VP: β=√(1-t²)",
    "sqrt": "sqrt: β=√(1-t)",
    "poly2": "poly2: α=t²",
    "poly3": "poly3: α=t³",
}
SCHEDULE_LABELS = [_SHORT_SCHEDULE_LABELS.get(n) or get_schedule(n).label for n in SCHEDULES]
SOLVERS = list(CHOICES["solver"])
SIGMA_SCHEDULES = list(CHOICES["sigma_schedule"])
_SIGMA_LABELS = {"constant": "σ_t = σ", "linear": "σ_t = σ(1-t)", "sqrt": "σ_t = σ√(1-t)"}
SIGMA_LABELS = [_SIGMA_LABELS.get(n, n) for n in SIGMA_SCHEDULES]
FIELD_SOURCES = list(CHOICES["field_source"])
DENSITY_SOURCES = list(CHOICES["density_source"])
GUIDE_PARTS = list(CHOICES["guide_part"])
FOLLOW = list(CHOICES["particles_follow"])


def _form_group(title: str) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
    form.setContentsMargins(8, 6, 8, 6)
    form.setVerticalSpacing(4)
    return box, form


def _combo(labels: list[str], tip: str) -> QComboBox:
    c = QComboBox()
    c.addItems(labels)
    c.setToolTip(tip)
    return c


class TrainControls(QGroupBox):
    """A panel with Train / Step / Reset buttons (2D and image mode)."""

    trainClicked = Signal()
    stepClicked = Signal()
    resetClicked = Signal()

    def _begin_form(self, state) -> QFormLayout:
        """The form, bound to ``state``, opening with the objective and schedule rows."""
        b = self._binder = Binder(state)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(4)
        self.objective = _combo(OBJECTIVES, OBJECTIVE_TIPS)
        b.combo("objective", self.objective, OBJECTIVES)
        form.addRow("objective", self.objective)
        self.schedule = _combo(
            SCHEDULE_LABELS, F.tooltip(f"Gaussian path {F.PATH}", "(t = 0 noise, t = 1 data)")
        )
        b.combo("schedule", self.schedule, SCHEDULES)
        form.addRow("schedule", self.schedule)
        return form

    def _add_optimizer_row(self, form: QFormLayout, batch: QSpinBox, batch_tip: str) -> None:
        """batch (``batch``, a spin box with its range) and the Adam learning rate."""
        opt = QHBoxLayout()
        self.batch_spin = batch
        self.batch_spin.setToolTip(batch_tip)
        self.lr_spin = QDoubleSpinBox(decimals=4, minimum=1e-4, maximum=0.05, singleStep=5e-4)
        self.lr_spin.setToolTip("Adam learning rate")
        self._binder.spin("batch_size", self.batch_spin)
        self._binder.spin("lr", self.lr_spin)
        opt.addWidget(self.batch_spin)
        opt.addWidget(QLabel("lr"))
        opt.addWidget(self.lr_spin)
        form.addRow("batch", opt)

    def _add_device_and_dropout(self, form: QFormLayout, devices: list[str]) -> None:
        b = self._binder
        self.device_combo = _combo(
            ["auto"] + devices, "where training runs; auto prefers CUDA, then Apple MPS, then CPU"
        )
        b.combo("device", self.device_combo, ["auto"] + devices)
        form.addRow("device", self.device_combo)
        self.dropout = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.dropout.setToolTip(
            F.tooltip(
                "label dropout η: a label is replaced by the null label with probability η,",
                f"so one network learns {F.U_T}(x | y) and {F.U_T}(x | ∅) for guidance",
            )
        )
        b.spin("label_dropout", self.dropout)
        form.addRow("label dropout η", self.dropout)

    def _finish(self, form: QFormLayout, status: str) -> None:
        """Lay out the form, the Train / Step / Reset buttons and the status line."""
        self.status = QLabel(status)
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#555;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.addLayout(form)
        lay.addLayout(self._train_buttons())
        lay.addWidget(self.status)

    def _train_buttons(self) -> QHBoxLayout:
        """Train / Step / Reset, wired to the panel's signals."""
        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("start / pause training (T)")
        self.train_button.setMinimumHeight(34)
        self.train_button.setStyleSheet(
            "QPushButton{background:#2e7d32;color:white;font-weight:bold;border-radius:4px;}"
            "QPushButton:hover{background:#388e3c;}"
        )
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("one optimizer step while paused")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("fresh weights (applies the settings above)")
        self.train_button.clicked.connect(self.trainClicked)
        self.step_button.clicked.connect(self.stepClicked)
        self.reset_button.clicked.connect(self.resetClicked)
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.step_button, 1)
        buttons.addWidget(self.reset_button, 1)
        return buttons

    def set_running(self, running: bool) -> None:
        self.train_button.setText("Pause" if running else "Train")
        self.step_button.setEnabled(not running)

    def show_session(self, session, settings_changed: bool, rate_decimals: int = 0) -> None:
        """The status line: step, steps/s and device, 'paused', or the trainer's error."""
        tr = session.trainer
        if session.running and tr.step_count == 0 and session.latest_snapshot is None:
            msg = "starting the trainer…"  # a training process imports torch first (seconds)
        elif session.running:
            rate = f"{tr.steps_per_sec:,.{rate_decimals}f}"
            msg = f"step {tr.step_count:,} · {rate} steps/s · {tr.device.type}"
        else:
            msg = f"paused at step {tr.step_count:,} · {tr.device.type}"
        if tr.error:
            msg = tr.error
            self.set_running(False)
        elif settings_changed:
            msg += " · settings changed: Reset applies them"
        self.status.setText(msg)


class TrainingPanel(TrainControls):
    """Objective, schedule, network size, optimizer, device; Train / Pause / Step / Reset."""

    def __init__(self, state: AppState, devices: list[str], parent=None):
        super().__init__("Training", parent)
        self.state = state
        form = self._begin_form(state)
        b = self._binder
        size = QHBoxLayout()
        self.width_spin = QSpinBox(minimum=16, maximum=1024, singleStep=16)
        self.width_spin.setToolTip(
            F.tooltip(f"hidden units per layer of the MLP {F.U_THETA}(x, t)")
        )
        self.depth_spin = QSpinBox(minimum=1, maximum=8)
        self.depth_spin.setToolTip("number of hidden layers")
        b.spin("width", self.width_spin)
        b.spin("depth", self.depth_spin)
        size.addWidget(self.width_spin)
        size.addWidget(QLabel("×"))
        size.addWidget(self.depth_spin)
        form.addRow("width × depth", size)
        self._add_optimizer_row(form, QSpinBox(minimum=16, maximum=8192, singleStep=128),
                                "samples (z, eps, t) per optimizer step")  # fmt: skip
        self._add_device_and_dropout(form, devices)
        self._finish(form, "not trained yet: the views show the exact field")


class SamplingPanel(QGroupBox):
    """Steps, solver, sigma_t, particles, guidance, layers."""

    def __init__(self, state: AppState, parent=None):
        super().__init__("Sampling", parent)
        self.state = state
        b = Binder(state)
        self._binder = b
        form = QFormLayout(self)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(4)
        form.setContentsMargins(8, 6, 8, 6)
        self.steps = QLabeledSlider(Qt.Orientation.Horizontal)
        self.steps.setRange(*CONTROL_RANGES["steps"])
        self.steps.setToolTip("n integration steps from t = 0 to 1, h = 1/n")
        b.slider("steps", self.steps, int)
        form.addRow("steps n", self.steps)
        self.solver = _combo(
            SOLVERS,
            F.tooltip(
                f"ODE solver for {F.ODE}:", "euler: x += h u;  heun: 2nd order;  rk4: 4th order"
            ),
        )
        b.combo("solver", self.solver, SOLVERS)
        form.addRow("ODE solver", self.solver)
        self.sigma = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.sigma.setRange(*CONTROL_RANGES["sigma"])
        self.sigma.setDecimals(2)
        self.sigma.setToolTip(
            F.tooltip(
                "diffusion coefficient of the SDE (Euler-Maruyama):",
                F.EULER_MARUYAMA,
                f"same marginals {F.P_T} as the ODE for every {F.SIGMA} ≥ 0",
            )
        )
        b.slider("sigma", self.sigma)
        form.addRow("SDE σ", self.sigma)
        self.sigma_schedule = _combo(SIGMA_LABELS, F.tooltip(f"how {F.SIGMA} varies with t"))
        b.combo("sigma_schedule", self.sigma_schedule, SIGMA_SCHEDULES)
        form.addRow(QLabel(f"{F.SIGMA} schedule"), self.sigma_schedule)
        self.drop_score = QCheckBox("drop the σ²/2 score term (bug demo)")
        self.drop_score.setToolTip(
            F.tooltip(
                f"{F.SDE_NO_SCORE}, without + {F.sup(F.SIGMA, '2')}/2 ∇log {F.P_T}:",
                "the marginals are then wrong; watch the SDE samples blur",
            )
        )
        b.check("drop_score_term", self.drop_score)
        form.addRow("", self.drop_score)
        lo, hi = CONTROL_RANGES["n_particles"]
        self.particles = QSpinBox(minimum=int(lo), maximum=int(hi), singleStep=1000)
        self.particles.setToolTip(
            F.tooltip(f"particles {F.sub('X', '0')} ~ N(0, I), the same seeds for ODE and SDE")
        )
        b.spin("n_particles", self.particles)
        form.addRow("particles", self.particles)
        self.w = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.w.setRange(*CONTROL_RANGES["w"])
        self.w.setDecimals(2)
        self.w.setToolTip(
            F.tooltip(
                f"classifier-free guidance: {F.CFG}",
                "w = 0 unconditional, 1 conditional, &gt; 1 amplified",
            )
        )
        b.slider("w", self.w)
        form.addRow("guidance w", self.w)
        self.label_combo = _combo(["none (unconditional)"], "the class y to guide towards")
        self.label_combo.currentIndexChanged.connect(
            lambda i: self.state.set(label=i - 1 if i >= 0 else -1)
        )
        form.addRow("class y", self.label_combo)
        self.follow = _combo(
            ["auto", "learned field", "exact field"],
            "which field moves the particles (auto: the learned one once training has started)",
        )
        b.combo("particles_follow", self.follow, FOLLOW)
        form.addRow("particles follow", self.follow)
        self.field_source = _combo(
            ["learned u_θ", "exact u_t", "learned − exact"],
            F.tooltip(
                "arrows: the learned field, the exact marginal field",
                F.EXACT_U + ",",
                "or their difference",
            ),
        )
        b.combo("field_source", self.field_source, FIELD_SOURCES)
        form.addRow("arrows", self.field_source)
        self.guide_part = _combo(
            ["guided ũ", "conditional u(x|y)", "unconditional u(x|∅)"],
            F.tooltip(
                "with a class y, the arrows show the guided field",
                F.CFG + ", or one of its two parts;",
                "'exact' / 'learned − exact' above apply to each",
            ),
        )
        b.combo("guide_part", self.guide_part, GUIDE_PARTS)
        form.addRow("guidance arrows", self.guide_part)
        self.density_source = _combo(
            ["exact p_t", "particle histogram", "guided target p(x|y)^w p(x)^(1−w)",
             *DIAGNOSTIC_LABELS],
            F.tooltip(
                f"heatmap: the exact marginal density {F.P_T}(x) (or {F.P_T}(x | y) with a class),",
                "a histogram of the particles, or the guided target",
                f"{F.P_T}(x | y)<sup>w</sup> {F.P_T}(x)<sup>1 − w</sup> normalized on the grid "
                "(needs a class);",
                DIAGNOSTIC_TIP,
            ),
        )
        b.combo("density_source", self.density_source, DENSITY_SOURCES)
        form.addRow("heatmap", self.density_source)
        state.subscribe(self._on_state_changed)

    def set_classes(self, names: list[str] | None) -> None:
        """Fill the class selector (disabled when the target has no classes)."""
        blocker = QSignalBlockerCompat(self.label_combo)
        self.label_combo.clear()
        self.label_combo.addItem("none (unconditional)")
        for k, n in enumerate(names or []):
            # one naming everywhere: y = <name>, with the colour the class is drawn in
            self.label_combo.addItem(class_swatch(k), f"y = {n}")
        has = bool(names)
        self.label_combo.setEnabled(has)
        self.w.setEnabled(has)
        self.guide_part.setEnabled(has)
        lab = self.state.label
        self.label_combo.setCurrentIndex(lab + 1 if has and lab < len(names) else 0)
        del blocker

    def _on_state_changed(self, name, value):
        if name == "label" and self.label_combo.currentIndex() != value + 1:
            if 0 <= value + 1 < self.label_combo.count():
                blocker = QSignalBlockerCompat(self.label_combo)
                self.label_combo.setCurrentIndex(value + 1)
                del blocker


def class_color(k: int) -> str:
    """The colour of class k: the canvas's brush colours first (a drawing's classes), then
    pyqtgraph's hue wheel."""
    from .canvas import CLASS_COLORS

    if k < len(CLASS_COLORS):
        return CLASS_COLORS[k]
    return pg.intColor(k, hues=12).name()


def class_swatch(k: int):
    """A small filled square icon in class k's colour (menus, combo boxes)."""
    from PySide6.QtGui import QColor, QIcon, QPixmap

    pm = QPixmap(12, 12)
    pm.fill(QColor(class_color(k)))
    return QIcon(pm)


def QSignalBlockerCompat(w):  # noqa: N802 - mirrors Qt's class name
    from PySide6.QtCore import QSignalBlocker

    return QSignalBlocker(w)


class CurvesPanel(QWidget):
    """Loss (log scale) with the floor L_min, and the energy distance of samples to the target."""

    def __init__(self, parent=None, with_floor: bool = True, with_quality: bool = True):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget(background="w")
        self.loss_plot.setLogMode(x=False, y=True)
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setTitle(f"training loss (dashed: floor {F.L_MIN})", size="9pt")
        self.loss_plot.setToolTip(
            F.tooltip(
                f"CFM loss {F.LOSS_CFM} never reaches 0:",
                f"its floor {F.FLOOR} comes from the exact marginal.",
                f"Excess loss = loss − {F.L_MIN} is what converges to 0.",
            )
        )
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.loss_smooth = self.loss_plot.plot(pen=pg.mkPen("#0d3c61", width=2))
        dash = pg.mkPen("#d62728", width=1.5, style=Qt.PenStyle.DashLine)
        self.floor_line = pg.InfiniteLine(angle=0, pen=dash)
        self.floor_line.setVisible(False)
        self.loss_plot.addItem(self.floor_line)
        self.quality_plot = pg.PlotWidget(background="w")
        self.quality_plot.setLabel("left", "energy dist.")
        self.quality_plot.setLabel("bottom", "step")
        self.quality_plot.setTitle("sample quality (ODE samples vs target)", size="9pt")
        self._quality_tip = F.tooltip(
            f"energy distance {F.ENERGY} between",
            "generated and target samples (lower is better)",
        )
        self.quality_plot.setToolTip(self._quality_tip)
        self.quality_curve = self.quality_plot.plot(
            pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=4
        )
        for p in (self.loss_plot, self.quality_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setMinimumHeight(110)  # both curves fit a 1000-px screen without scrolling
            # pyqtgraph's 480-px size hint made a scrolling control column 1600 px tall
            p.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        if not with_floor:  # image data: no closed-form marginal, so no floor
            self.loss_plot.setTitle("training loss", size="9pt")
            self.loss_plot.setToolTip(
                F.tooltip(
                    f"CFM loss {F.LOSS_CFM} (log scale).",
                    f"It never reaches 0: even the exact marginal field {F.U_T}(x) leaves a floor,",
                    "which has no closed form for image data.",
                )
            )
        lay.addWidget(self.loss_plot)
        lay.addWidget(self.quality_plot)
        self.quality_plot.setVisible(with_quality)
        self.floor_stderr: float | None = None
        self.excess_label = QLabel("")
        self.excess_label.setStyleSheet("color:#555;")
        lay.addWidget(self.excess_label)
        self._empty_ranges()

    def _empty_ranges(self) -> None:
        """Before training: fixed, readable axes (an empty log axis crowds its labels)."""
        self._empty = True
        self.loss_plot.setXRange(0, 1000, padding=0)
        self.loss_plot.setYRange(-2, 1, padding=0)  # log10: 0.01 .. 10
        self.quality_plot.setXRange(0, 1000, padding=0)
        self.quality_plot.setYRange(0, 0.1, padding=0)

    def set_loss(self, steps: np.ndarray, losses: np.ndarray, floor: float | None) -> None:
        if len(steps) == 0:
            self.loss_curve.setData([], [])
            self.loss_smooth.setData([], [])
            self.excess_label.setText("")
            self._empty_ranges()
        else:
            if self._empty:
                self._empty = False
                for p in (self.loss_plot, self.quality_plot):
                    p.enableAutoRange()
            stride = max(1, len(steps) // 2000)
            self.loss_curve.setData(steps[::stride], losses[::stride])
            k = max(1, min(len(losses) // 10, 100))
            c = np.cumsum(losses)  # the running mean over k steps in O(n), not O(n k)
            smooth = (c[k - 1 :] - np.concatenate(([0.0], c[:-k]))) / k
            self.loss_smooth.setData(steps[k - 1 :][::stride], smooth[::stride])
            if floor is not None and math.isfinite(floor):
                self.excess_label.setText(
                    f"loss {smooth[-1]:.4f}  ·  floor L_min {floor:.4f}  ·  "
                    + describe_excess(float(smooth[-1]), floor, self.floor_stderr)
                )
            else:
                self.excess_label.setText(f"loss {smooth[-1]:.4f} (smoothed over {k} steps)")
        self.set_floor(floor, self.floor_stderr)

    def set_floor(self, floor: float | None, stderr: float | None = None) -> None:
        """The dashed L_min line (hidden while the floor is unknown, e.g. still computing);
        stderr: its Monte Carlo standard error (the excess is reported within 2 of them)."""
        self.floor_stderr = stderr
        if floor is not None and math.isfinite(floor) and floor > 0:
            self.floor_line.setValue(math.log10(floor))
            self.floor_line.setVisible(True)
        else:
            self.floor_line.setVisible(False)

    def show_history(self, history, floor: float | None) -> None:
        """The loss curve of a trainer's LossHistory (append-only lists, read up to one length)."""
        n = len(history.losses)
        steps = np.fromiter(history.steps[:n], dtype=float, count=n)
        losses = np.fromiter(history.losses[:n], dtype=float, count=n)
        self.set_loss(steps, losses, floor)

    def set_quality(
        self, steps: list[int], values: list[float], support: float | None = None
    ) -> None:
        """The energy-distance curve; support: the latest support share (in the tooltip)."""
        self.quality_curve.setData(np.asarray(steps, float), np.asarray(values, float))
        tip = self._quality_tip
        if values:
            tip += f"<br>latest: energy distance {values[-1]:.4g}"
            if support is not None:
                tip += (
                    f", {100 * support:.1f}% of samples inside the target's support "
                    "(p<sub>data</sub> &ge; 1% of its maximum)"
                )
        self.quality_plot.setToolTip(tip)
