"""The menu bars of the 2D and the image window. Every action calls a public method of the window
or of one of its controllers (project, exports, sessions), the same ones tests and scripted mode
call. Tests reach each action through QAction.trigger() (tests/ui/test_menus.py)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from .actions import add_action

#: View menu of the 2D window: state field -> the layer it shows
LAYER_NAMES = {
    "show_density": "Density heatmap p_t",
    "show_field": "Vector field arrows",
    "show_score": "Score arrows ∇log p_t",
    "show_trails": "Trails",
    "show_particles": "Particles",
}


def build_main_menus(win) -> dict[str, QAction]:
    """File, Edit, View, Run, Help of the 2D window; returns the View menu's layer actions
    (state field -> checkable action)."""
    from .animation import animation_formats

    def act(menu, text, slot, shortcut=None, tip=None, checkable=False) -> QAction:
        return add_action(win, menu, text, slot, shortcut, tip, checkable)

    mb = win.menuBar()
    project, exports = win.project, win.exports
    f = mb.addMenu("&File")
    act(f, "&New project", project.new_project, "Ctrl+N")
    act(f, "&Open project…", project.open_project_dialog, "Ctrl+O")
    from .external_field import open_model_dialog

    act(f, "Open &model (ONNX, model folder)…", lambda: open_model_dialog(win), None,
        "show a trained velocity field (no training) beside the exact one")  # fmt: skip
    act(f, "&Save project", project.save_project, "Ctrl+S")
    act(f, "Save project &as…", project.save_project_as, "Ctrl+Shift+S")
    f.addSeparator()
    act(f, "&Import data…", win.import_data_dialog, "Ctrl+I",
        "an image or a point file as the target")  # fmt: skip
    ex = f.addMenu("&Export")
    act(ex, "Model (safetensors + json)…", lambda: exports.export_model("dir"))
    act(ex, "Model as torch.export (.pt2)…", lambda: exports.export_model("pt2"))
    act(ex, "Model as ONNX…", lambda: exports.export_model("onnx"))
    act(ex, "Samples (npy / csv)…", exports.export_samples)
    act(ex, "View as PNG…", lambda: exports.export_view("png"), "Ctrl+E")
    act(ex, "View as SVG…", lambda: exports.export_view("svg"))
    kinds = ", ".join(k.upper() for k in animation_formats())
    act(ex, f"Animation t = 0 → 1 ({kinds})…", exports.export_animation)
    act(ex, "Run as Python script…", exports.export_run_script)
    f.addSeparator()
    act(f, "Image &mode (digits, MNIST, folders)…", win.open_image_mode, "Ctrl+Shift+I",
        "train a U-Net on images and watch classifier-free guidance")  # fmt: skip
    f.addSeparator()
    act(f, "&Quit", win.close, "Ctrl+Q")

    e = mb.addMenu("&Edit")
    # the active canvas layer's stack (target or source), else the target's
    stack = getattr(win.canvas, "undo_group", None) or win.canvas.undo_stack()
    undo = stack.createUndoAction(win, "&Undo")
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    redo = stack.createRedoAction(win, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    e.addAction(undo)
    e.addAction(redo)

    v = mb.addMenu("&View")
    layers = {}
    for key, text in LAYER_NAMES.items():
        a = act(v, text, lambda on, k=key: win.state.set(**{k: on}), checkable=True)
        a.setChecked(bool(getattr(win.state, key)))
        layers[key] = a

    r = mb.addMenu("&Run")
    act(r, "Train / pause", win.toggle_training, "T")
    act(r, "Play / pause time", lambda: win.state.set(playing=not win.state.playing), "Space")
    act(r, "Reset weights", win.reset_training, "Ctrl+R")

    h = mb.addMenu("&Help")
    act(h, "Formula cheat-sheet", win.show_cheatsheet, "F1")
    act(h, "About flowscope", lambda: show_about(win))
    return layers


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
    from .image_follow import follow_run_dialog, stop_following

    act(f, "&Follow a training run…", lambda: follow_run_dialog(win),
        tip="sample the newest checkpoint of a run's folder, reloaded as it trains")  # fmt: skip
    act(f, "Stop following", lambda: stop_following(win))
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


def show_about(parent) -> None:
    """Help > About flowscope."""
    from PySide6.QtWidgets import QMessageBox

    from .. import __version__

    QMessageBox.about(
        parent,
        "About flowscope",
        f"flowscope {__version__}: see and train flow matching and diffusion "
        "models, with the exact answer beside them.",
    )
