"""Wiring of the course's storyline views into the main window (issue 14), in one place so the
window itself only calls :func:`install`: the posterior lens (L, a check box under the
explorer), the conditional path (C; Z: a new random z), the SDE playground window."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout

from ..core.couplings import COUPLINGS
from .actions import add_action
from .binding import Binder
from .conditional import TOOLTIP as CONDITIONAL_TOOLTIP
from .conditional import ConditionalMode
from .lens import PosteriorLens


def _view_menu(win, title: str = "View"):
    for a in win.menuBar().actions():
        if a.menu() is not None and a.text().replace("&", "") == title:
            return a.menu()
    return win.menuBar().addMenu(f"&{title}")


def _in_step(signal, action) -> None:
    signal.connect(lambda on: action.setChecked(on) if action.isChecked() != on else None)


def install(win) -> None:
    """Add ``win.lens`` and ``win.conditional`` with their View menu actions to a MainWindow
    (after its menus are built)."""

    def source():  # p_init's mixture (None: N(0, I)); win.source_choice is made below
        choice = getattr(win, "source_choice", None)
        return None if choice is None else choice.mixture()

    win.lens = PosteriorLens(
        win.explorer, win.state, lambda: win.target, win.snapshot, win.worker, win, source
    )
    bar = getattr(win, "_time_bar", None)
    if bar is not None:  # beside 'loop', under the explorer
        bar.insertWidget(bar.count() - 1, win.lens.make_checkbox())
    win.conditional = ConditionalMode(
        win.explorer, win.view, win.state, lambda: win.target, lambda: win.lens.enabled, win, source
    )
    menu = _view_menu(win)
    menu.addSeparator()
    lens = add_action(
        win,
        menu,
        "Posterior lens",
        win.lens.set_enabled,
        "L",
        checkable=True,
        tip="u_t(x) = Σ_i p(i|x,t) u_t(x|z_i): hover a point, click to pin",
    )
    _in_step(win.lens.toggled, lens)
    add_action(win, menu, "Posterior lens shows the score", lambda on: win.lens.set_quantity(
        "score" if on else "velocity"), "Shift+L", checkable=True,
        tip="∇log p_t(x) = Σ_i p(i|x,t) ∇log p_t(x|z_i); the network's score: its own (score, "
        "noise objectives) or converted from u_θ (velocity)")  # fmt: skip
    cond = add_action(
        win,
        menu,
        "Conditional path p_t(x | z)",
        win.conditional.set_active,
        "C",
        checkable=True,
        tip="p_t(x|z) = N(α_t z, β_t² I), u_t(x|z); Z: new z",
    )
    _in_step(win.conditional.toggled, cond)
    add_action(win, menu, "New random z (conditional path)", win.conditional.new_random_z, "Z")
    menu.addSeparator()
    add_action(win, menu, "SDE playground…", lambda: open_playground(win), "Ctrl+Shift+P",
               tip="Brownian motion, Ornstein-Uhlenbeck, Langevin toward the target")  # fmt: skip
    _add_coupling(win)
    from .source_choice import SourceChoice

    win.source_choice = SourceChoice(win)  # issue 14: source p_init (combo under coupling)
    from .steps_curve_view import TOOLTIP as STEPS_TIP
    from .steps_curve_view import open_steps_curve

    run_menu = _view_menu(win, "Run")
    run_menu.addSeparator()
    add_action(win, run_menu, "Steps curve…", lambda: open_steps_curve(win), tip=STEPS_TIP)
    run_menu.setToolTipsVisible(True)
    from .straightness_view import StraightnessLine

    win.straightness = StraightnessLine(win, win)
    centre = win.status_label.parentWidget().layout()
    centre.insertWidget(centre.indexOf(win.status_label) + 1, win.straightness.label)
    menu.setToolTipsVisible(True)
    cond.setToolTip(CONDITIONAL_TOOLTIP)
    from .reflow_action import install as install_reflow

    install_reflow(win)  # Run > Reflow from the current model, and a button under 'coupling'


def open_playground(win):
    """The SDE playground window of ``win`` (one; shown and raised again if open)."""
    from .playground import PlaygroundWindow

    pg_win = getattr(win, "playground", None)
    if pg_win is None:
        pg_win = win.playground = PlaygroundWindow(lambda: win.target, win)
        pg_win.run()
    pg_win.show()
    pg_win.raise_()
    return pg_win


COUPLING_LABELS = ["independent", "minibatch OT"]
COUPLING_TIP = (
    "<p>How training pairs (x<sub>0</sub>, x<sub>1</sub>) are drawn. <b>independent</b>: "
    "x<sub>0</sub> ~ N(0, I) and x<sub>1</sub> ~ p<sub>data</sub> independently (the exact views "
    "show this flow). <b>minibatch OT</b>: each batch is re-paired by the exact optimal assignment "
    "(min Σ ||x<sub>1</sub> − x<sub>0</sub>||²): straighter paths, fewer Euler steps; velocity "
    "objective only. Applies after Reset.</p>"
)


def _add_coupling(win) -> None:
    """The coupling choice in the training panel (before 'device'), bound to state.coupling;
    with OT the status bar says that the exact views keep the independent coupling's truth."""
    form = win.training_panel.findChild(QFormLayout)
    if form is None:
        return
    combo = QComboBox()
    combo.addItems(COUPLING_LABELS)
    combo.setToolTip(COUPLING_TIP)
    win._story_binder = Binder(win.state)
    win._story_binder.combo("coupling", combo, list(COUPLINGS))
    row = next(
        (
            r
            for r in range(form.rowCount())
            if (item := form.itemAt(r, QFormLayout.ItemRole.LabelRole)) is not None
            and getattr(item.widget(), "text", lambda: "")() == "device"
        ),
        form.rowCount(),
    )
    form.insertRow(row, "coupling", combo)
    win.coupling_combo = combo

    def note(name, value) -> None:
        if name == "coupling" and value != "independent":
            win.statusBar().showMessage(
                "minibatch OT: the exact views (arrows, heatmap, lens) still show the "
                "independent coupling's flow; the learned one is straighter (press Reset)",
                8000,
            )

    win.state.subscribe(note)
