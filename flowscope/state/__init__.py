"""One Qt-free application state: parameters only (never tensors), evented."""

from .app_state import AppState, Evented

__all__ = ["AppState", "Evented"]
