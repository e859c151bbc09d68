"""Wiring of the course's storyline views into the main window (issue 14), in one place so the
window itself only calls :func:`install`: the posterior lens (L, a check box under the
explorer), the conditional path (C; Z: a new random z), the SDE playground window."""

from __future__ import annotations

from .actions import add_action
from .conditional import TOOLTIP as CONDITIONAL_TOOLTIP
from .conditional import ConditionalMode
from .lens import PosteriorLens


def _view_menu(win):
    for a in win.menuBar().actions():
        if a.menu() is not None and a.text().replace("&", "") == "View":
            return a.menu()
    return win.menuBar().addMenu("&View")


def _in_step(signal, action) -> None:
    signal.connect(lambda on: action.setChecked(on) if action.isChecked() != on else None)


def install(win) -> None:
    """Add ``win.lens`` and ``win.conditional`` with their View menu actions to a MainWindow
    (after its menus are built)."""
    win.lens = PosteriorLens(
        win.explorer, win.state, lambda: win.target, win._snapshot, win.worker, win
    )
    bar = getattr(win, "_time_bar", None)
    if bar is not None:  # beside 'loop', under the explorer
        bar.insertWidget(bar.count() - 1, win.lens.make_checkbox())
    win.conditional = ConditionalMode(
        win.explorer, win.view, win.state, lambda: win.target, lambda: win.lens.enabled, win
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
    menu.setToolTipsVisible(True)
    cond.setToolTip(CONDITIONAL_TOOLTIP)


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
