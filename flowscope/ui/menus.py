"""The menu bars of the 2D and the image window. Every action calls a public method of the window
or of one of its controllers (project, exports, sessions), the same ones tests and scripted mode
call. Tests reach each action through QAction.trigger() (tests/ui/test_menus.py)."""

from __future__ import annotations

from PySide6.QtGui import QAction

from .actions import add_action


def build_image_menus(win) -> None:
    """File, Run, Help of the image window."""
    from .image_panels import DATASET_HINT

    def act(menu, text, slot, shortcut=None, tip=None) -> QAction:
        return add_action(win, menu, text, slot, shortcut, tip)

    mb = win.menuBar()
    models, exports = win.model_files, win.exports
    f = mb.addMenu("&File")
    act(f, "Open &dataset…", win.open_dataset_dialog, "Ctrl+O", DATASET_HINT)
    act(f, "Use the &digits dataset", lambda: win.load_dataset("digits"))
    act(f, "Open &model…", models.open_model_dialog, "Ctrl+Shift+O",
        "continue training a saved image model (a folder with model.safetensors + model.json)",
    )  # fmt: skip
    act(f, "Continue the &last model", models.open_last_model,
        tip="the model this window saved when it was last closed")  # fmt: skip
    ex = f.addMenu("&Export")
    act(ex, "Model (safetensors + json)…", exports.export_model, "Ctrl+Shift+E")
    act(ex, "Sample grid as PNG…", exports.export_grid, "Ctrl+E")
    act(ex, "Samples as npy…", exports.export_samples)
    act(ex, "Trajectory strip as PNG…", exports.export_strip)
    f.addSeparator()
    act(f, "&Close", win.close, "Ctrl+W")
    r = mb.addMenu("&Run")
    act(r, "Train / pause", win.toggle_training, "T")
    act(r, "Step", win._on_step_clicked, "S")
    act(r, "New noise", lambda: win.state.set(seed=win.state.seed + 1), "N")
    act(r, "Reset weights", win.reset_training, "Ctrl+R")
    h = mb.addMenu("&Help")
    act(h, "Formula cheat-sheet", win.show_cheatsheet, "F1")
