"""ImageModelFiles: the image window's saved models.

Open a saved image model and continue training it, the question before trained weights are
dropped (Save exports the model first), and the last trained model kept on close
(FLOWSCOPE_HOME/last-image-model) so that File > Continue the last model finds it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from ..window_base import last_image_model_path


class ImageModelFiles(QObject):
    """``window`` is the ImageWindow (state, dataset, sessions, load_dataset, current_model,
    exports)."""

    #: saved weights were adopted: a session now continues from them
    modelAdopted = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        #: keep the last model on close (off in scripted mode and tests)
        self.autosave_enabled = True

    def open_model_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.window, "Open a saved image model (its folder)"
        )
        if path:
            self.open_model(path)

    def open_last_model(self) -> bool:
        return self.open_model(last_image_model_path())

    def open_model(self, path) -> bool:
        """Continue from a saved image model: its dataset must have the same image shape and
        classes (the dataset it names is loaded when the current one does not fit)."""
        from ...core.checkpoint import CheckpointError
        from ...core.flow_model import load
        from ..panels import SCHEDULES

        win = self.window
        if path is None or not Path(path).exists():
            win.show_error("No saved model", f"nothing at {path}: train and close image mode first")
            return False
        try:
            model = load(path)
        except (CheckpointError, ValueError, OSError) as e:
            win.show_error("Cannot open this model", str(e))
            return False
        if model.kind != "image":
            win.show_error("Not an image model", "this is a 2D model: open it in the main window")
            return False
        source = (model.metadata.get("data") or {}).get("source")
        if not self._fits(model) and source and source != win.state.dataset:
            win.load_dataset(source)
        if not self._fits(model):
            c, h, w = model.config.image_shape
            win.show_error(
                "The model does not fit this dataset",
                f"the model is for {c}x{h}x{w} images with {model.config.num_classes} classes; "
                "open that dataset first (File > Open dataset)",
            )
            return False
        if not self.confirm_discard():
            return False
        cfg = model.config
        win.state.set(channels=cfg.channels, objective=cfg.parameterization,
                      schedule=model.schedule.name if model.schedule.name in SCHEDULES
                      else win.state.schedule)  # fmt: skip
        steps = int((model.metadata.get("training") or {}).get("steps") or 0)
        if not win.sessions.adopt(model.net.state_dict(), step=steps, mc=cfg):
            return False
        self.modelAdopted.emit()
        win.statusBar().showMessage(f"continuing from {path} (step {steps:,})", 6000)
        return True

    def _fits(self, model) -> bool:
        ds = self.window.dataset
        return (ds is not None and tuple(model.config.image_shape) == ds.shape
                and model.config.num_classes == ds.num_classes)  # fmt: skip

    def confirm_discard(self) -> bool:
        """True when the trained weights may go (no trained weights, or the user agreed;
        exported first if the user asks)."""
        if not self.window.sessions.step_count:
            return True
        ans = self.window.ask_save_or_discard(
            "Keep the trained model?",
            "The trained weights will be discarded. Export the model first?",
        )
        if ans == "save":
            return self.window.exports.export_model()
        return ans == "discard"

    def autosave(self) -> None:
        """Keep the last trained image model (FLOWSCOPE_HOME/last-image-model)."""
        path = last_image_model_path()
        if path is None or self.window.sessions.snapshot is None or not self.autosave_enabled:
            return
        try:
            self.window.current_model().save(path)
        except Exception:  # never block closing on the autosave
            pass
