"""The right-hand panels: training and sampling (the curves are in curves.py). Each control has
a tooltip with the formula behind it (MATH.md)."""

from __future__ import annotations

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
    QSpinBox,
    QVBoxLayout,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from ..core.schedules import get_schedule
from ..state import AppState
from ..state.app_state import CHOICES
from . import formulas as F
from .binding import Binder
from .curves import CurvesPanel, class_color, class_swatch  # noqa: F401 - re-exported
from .diagnostics_maps import DIAGNOSTIC_LABELS, DIAGNOSTIC_TIP
from .steady_label import reserve_lines

# The choice lists come from the code that implements them (the state fields' metadata reads
# core and the compute worker): a schedule added in core shows up here with its own label.
# Ranges and row labels come from the same metadata (Binder.span, state.label_of).
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
        objectives = list(state.choices("objective"))
        self.objective = _combo(objectives, OBJECTIVE_TIPS)
        b.combo("objective", self.objective, objectives)
        form.addRow(state.label_of("objective"), self.objective)
        self.schedule = _combo(
            SCHEDULE_LABELS, F.tooltip(f"Gaussian path {F.PATH}", "(t = 0 noise, t = 1 data)")
        )
        b.combo("schedule", self.schedule, list(state.choices("schedule")))
        form.addRow(state.label_of("schedule"), self.schedule)
        return form

    def _add_optimizer_row(self, form: QFormLayout, batch: QSpinBox, batch_tip: str) -> None:
        """batch (``batch``, a spin box with its range) and the Adam learning rate."""
        opt = QHBoxLayout()
        self.batch_spin = batch
        self.batch_spin.setToolTip(batch_tip)
        self.lr_spin = QDoubleSpinBox(decimals=4, singleStep=5e-4)
        self.lr_spin.setToolTip("Adam learning rate")
        self._binder.span("batch_size", self.batch_spin)
        self._binder.span("lr", self.lr_spin)
        self._binder.spin("batch_size", self.batch_spin)
        self._binder.spin("lr", self.lr_spin)
        opt.addWidget(self.batch_spin)
        opt.addWidget(QLabel(self._binder.state.label_of("lr")))
        opt.addWidget(self.lr_spin)
        form.addRow(self._binder.state.label_of("batch_size"), opt)

    def _add_device_and_dropout(self, form: QFormLayout, devices: list[str]) -> None:
        b = self._binder
        self.device_combo = _combo(
            ["auto"] + devices, "where training runs; auto prefers CUDA, then Apple MPS, then CPU"
        )
        b.combo("device", self.device_combo, ["auto"] + devices)
        form.addRow("device", self.device_combo)
        self.dropout = QDoubleSpinBox(decimals=2, singleStep=0.05)
        b.span("label_dropout", self.dropout)
        self.dropout.setToolTip(
            F.tooltip(
                "label dropout η: a label is replaced by the null label with probability η,",
                f"so one network learns {F.U_T}(x | y) and {F.U_T}(x | ∅) for guidance",
            )
        )
        b.spin("label_dropout", self.dropout)
        form.addRow(b.state.label_of("label_dropout"), self.dropout)

    def _finish(self, form: QFormLayout, status: str) -> None:
        """Lay out the form, the Train / Step / Reset buttons and the status line."""
        # two lines kept: a status that wraps to one line more or less must not resize the column
        self.status = reserve_lines(QLabel(status), 2)
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
        self.width_spin = QSpinBox(singleStep=16)
        b.span("width", self.width_spin)
        self.width_spin.setToolTip(
            F.tooltip(f"hidden units per layer of the MLP {F.U_THETA}(x, t)")
        )
        self.depth_spin = QSpinBox()
        b.span("depth", self.depth_spin)
        self.depth_spin.setToolTip("number of hidden layers")
        b.spin("width", self.width_spin)
        b.spin("depth", self.depth_spin)
        size.addWidget(self.width_spin)
        size.addWidget(QLabel("×"))
        size.addWidget(self.depth_spin)
        form.addRow(f"{state.label_of('width')} × {state.label_of('depth')}", size)
        self._add_optimizer_row(form, QSpinBox(singleStep=128),
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
        b.span("steps", self.steps)
        self.steps.setToolTip("n integration steps from t = 0 to 1, h = 1/n")
        b.slider("steps", self.steps, int)
        form.addRow(state.label_of("steps"), self.steps)
        self.solver = _combo(
            SOLVERS,
            F.tooltip(
                f"ODE solver for {F.ODE}:", "euler: x += h u;  heun: 2nd order;  rk4: 4th order"
            ),
        )
        b.combo("solver", self.solver, SOLVERS)
        form.addRow(state.label_of("solver"), self.solver)
        self.sigma = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        b.span("sigma", self.sigma)
        self.sigma.setDecimals(2)
        self.sigma.setToolTip(
            F.tooltip(
                "diffusion coefficient of the SDE (Euler-Maruyama):",
                F.EULER_MARUYAMA,
                f"same marginals {F.P_T} as the ODE for every {F.SIGMA} ≥ 0",
            )
        )
        b.slider("sigma", self.sigma)
        form.addRow(state.label_of("sigma"), self.sigma)
        self.sigma_schedule = _combo(SIGMA_LABELS, F.tooltip(f"how {F.SIGMA} varies with t"))
        b.combo("sigma_schedule", self.sigma_schedule, SIGMA_SCHEDULES)
        form.addRow(QLabel(state.label_of("sigma_schedule")), self.sigma_schedule)
        self.drop_score = QCheckBox("drop the σ²/2 score term (bug demo)")
        self.drop_score.setToolTip(
            F.tooltip(
                f"{F.SDE_NO_SCORE}, without + {F.sup(F.SIGMA, '2')}/2 ∇log {F.P_T}:",
                "the marginals are then wrong; watch the SDE samples blur",
            )
        )
        b.check("drop_score_term", self.drop_score)
        form.addRow("", self.drop_score)
        self.particles = QSpinBox(singleStep=1000)
        b.span("n_particles", self.particles)
        self.particles.setToolTip(
            F.tooltip(f"particles {F.sub('X', '0')} ~ N(0, I), the same seeds for ODE and SDE")
        )
        b.spin("n_particles", self.particles)
        form.addRow(state.label_of("n_particles"), self.particles)
        self.w = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        b.span("w", self.w)
        self.w.setDecimals(2)
        self.w.setToolTip(
            F.tooltip(
                f"classifier-free guidance: {F.CFG}",
                "w = 0 unconditional, 1 conditional, &gt; 1 amplified",
            )
        )
        b.slider("w", self.w)
        form.addRow(state.label_of("w"), self.w)
        self.label_combo = _combo(["none (unconditional)"], "the class y to guide towards")
        self.label_combo.currentIndexChanged.connect(
            lambda i: self.state.set(label=i - 1 if i >= 0 else -1)
        )
        form.addRow(state.label_of("label"), self.label_combo)
        self.follow = _combo(
            ["auto", "learned field", "exact field"],
            "which field moves the particles (auto: the learned one once training has started)",
        )
        b.combo("particles_follow", self.follow, FOLLOW)
        form.addRow(state.label_of("particles_follow"), self.follow)
        self.field_source = _combo(
            ["learned u_θ", "exact u_t", "learned − exact"],
            F.tooltip(
                "arrows: the learned field, the exact marginal field",
                F.EXACT_U + ",",
                "or their difference",
            ),
        )
        b.combo("field_source", self.field_source, FIELD_SOURCES)
        form.addRow(state.label_of("field_source"), self.field_source)
        self.guide_part = _combo(
            ["guided ũ", "conditional u(x|y)", "unconditional u(x|∅)"],
            F.tooltip(
                "with a class y, the arrows show the guided field",
                F.CFG + ", or one of its two parts;",
                "'exact' / 'learned − exact' above apply to each",
            ),
        )
        b.combo("guide_part", self.guide_part, GUIDE_PARTS)
        form.addRow(state.label_of("guide_part"), self.guide_part)
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
        form.addRow(state.label_of("density_source"), self.density_source)
        state.events.label.connect(self._on_label_changed)

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

    def _on_label_changed(self, value: int) -> None:
        if self.label_combo.currentIndex() != value + 1:
            if 0 <= value + 1 < self.label_combo.count():
                blocker = QSignalBlockerCompat(self.label_combo)
                self.label_combo.setCurrentIndex(value + 1)
                del blocker


def QSignalBlockerCompat(w):  # noqa: N802 - mirrors Qt's class name
    from PySide6.QtCore import QSignalBlocker

    return QSignalBlocker(w)
