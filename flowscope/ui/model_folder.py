"""The 'export model into a folder' dialog: a save dialog, so a folder that does not exist yet
can be named (QFileDialog.getExistingDirectory refused it); saving creates it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

__all__ = ["ask_model_folder", "MODEL_FOLDER_TITLE"]

MODEL_FOLDER_TITLE = "Export model into folder (created if new)"


def ask_model_folder(parent: QWidget | None, default: str = "model") -> str:
    """A folder path for model.safetensors + model.json ('' when cancelled). An existing file
    is refused by the save (a clear message), an existing folder is written into."""
    path, _ = QFileDialog.getSaveFileName(
        parent, MODEL_FOLDER_TITLE, default, "Model folder (safetensors + json) (*)"
    )
    return str(Path(path).expanduser()) if path else ""
