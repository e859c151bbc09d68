"""Showing a field flowscope did not train in the 2D window: ``flowscope.show(field)``, File > Open
model (ONNX files, flowscope model folders) and ``flowscope open MODEL``.

The field goes to the compute side as a :class:`~flowscope.train.field_snapshot.FieldSnapshot`
in place of training weights, so the explorer integrates and draws it exactly as it does a
learned field (ODE / SDE particles, arrows, heatmaps), beside the exact field of the target.
Training is switched off while a field is shown (its controls are disabled and the status says
"showing an external field"); New project, Open project or Close model go back to training.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from ..train.compute import ComputeWorker
from ..train.field_snapshot import FieldSnapshot
from .main_window import MainWindow

#: File > Open model's file filter (a model folder opens through its model.json)
MODEL_FILTER = "Models (*.onnx model.json model.safetensors);;All files (*)"
#: menu actions that train: disabled while a fixed field is shown
TRAINING_ACTIONS = ("Train / pause", "Reset weights")


class FixedSessions(QObject):
    """Stands in for the window's SessionController inside its ExplorerController: the newest
    snapshot is always the fixed field, and nothing trains."""

    def __init__(self, snapshot: FieldSnapshot, parent: QObject | None = None):
        super().__init__(parent)
        self.snapshot = snapshot
        self.session = None
        self.running = False
        self.step_count = 0


def attach_field(win: MainWindow, field, name: str = "external field", target=None) -> None:
    """Show ``field`` (a flowscope Field in data coordinates) in ``win`` instead of training.
    target: None (keep the window's target), a preset name or file, or a Target."""
    win.sessions.discard()
    snap = FieldSnapshot(field, name, getattr(field, "class_names", None))
    if target is not None:
        if isinstance(target, str):
            win.set_target_source(target)
        else:
            win._apply_target(target, "external")
    if not _num_classes(field):  # y would be passed to a field that takes none
        win.sampling_panel.set_classes(None)
        win.state.set(label=-1)
    real = getattr(win, "_real_sessions", None) or win.view.sessions
    win._real_sessions = real
    win.view.sessions = FixedSessions(snap, win)
    win.external_field = snap
    _set_training_enabled(win, False)
    line = f"showing an external field: {name} (no training)"
    win.training_panel.status.setText(line)
    win.status_label.setText(f"particles follow {name}; {line}")
    win.statusBar().showMessage(line, 10000)
    win.view.restart()


def _num_classes(field) -> int:
    config = getattr(field, "config", None)
    return int(getattr(field, "num_classes", 0) or getattr(config, "num_classes", 0) or 0)


def detach_field(win: MainWindow) -> None:
    """Back to training in ``win`` (nothing happens when no fixed field is shown)."""
    real = getattr(win, "_real_sessions", None)
    if real is None:
        return
    win.view.sessions = real
    win._real_sessions = None
    win.external_field = None
    if win.target is not None:
        win.sampling_panel.set_classes(win.target.class_names)
    _set_training_enabled(win, True)
    win.training_panel.status.setText("not trained yet")
    win.status_label.setText("particles follow the exact field")
    win.view.restart()


def _set_training_enabled(win: MainWindow, on: bool) -> None:
    win.training_panel.setEnabled(on)
    for action in win.findChildren(QAction):
        if action.text().replace("&", "") in TRAINING_ACTIONS:
            action.setEnabled(on)


def load_model_field(path: str | Path):
    """(field, name, target or None) for an ONNX file or a flowscope model (folder, model.json
    or model.safetensors). Raises ValueError / OSError with a message for the user."""
    from ..core.checkpoint import CheckpointError
    from ..core.data.target import Target

    p = Path(path).expanduser()
    if p.suffix.lower() == ".onnx":
        from ..core.onnx_field import OnnxField

        field = OnnxField(p)
        if field.kind != "2d" or field.sample_shape != (2,):
            raise ValueError(f"{p.name} is an image model; open it in image mode")
        return field, p.name, None
    from ..core.flow_model import load

    try:
        model = load(p)
    except CheckpointError as e:
        raise ValueError(str(e)) from None
    if model.kind != "2d" or model.config.dim != 2:
        raise ValueError(f"{p} is an image model; open it in image mode (File > Image mode)")
    target = None
    if model.target is not None and model.target.dim == 2:
        names = (model.metadata or {}).get("class_names")
        names = names if model.target.num_classes and names else None
        target = Target(f"{p.name} target", model.target, "points", class_names=names)
    name = p.parent.name if p.is_file() else p.name
    return model, name, target


def open_model(win: MainWindow, path: str | Path) -> bool:
    """Open a model file or folder in ``win`` as a fixed field (a message when it cannot)."""
    try:
        field, name, target = load_model_field(path)
    except (ValueError, OSError, RuntimeError) as e:
        win._error("Cannot open the model", str(e))
        return False
    attach_field(win, field, name, target)
    return True


def open_model_dialog(win: MainWindow) -> bool:
    """File > Open model…: an ONNX file or a flowscope model's model.json."""
    path, _ = QFileDialog.getOpenFileName(win, "Open model", "", MODEL_FILTER)
    if not path or (win.session is not None and not win.project.maybe_save()):
        return False  # showing a model ends the training run: save it first if asked
    return open_model(win, path)


class ExternalFieldWindow(MainWindow):
    """The 2D window for ``flowscope.show``: its compute worker is a thread of this process (a
    user's function cannot travel to the compute process), which leaves torch's thread count
    alone (it is the user's process)."""

    def _make_worker(self):
        return ComputeWorker(num_threads=None)
