"""One Qt-free application state: parameters only (never tensors), evented."""

from .app_state import AppState, Evented
from .image_state import ImageState, parse_ws

__all__ = ["AppState", "Evented", "ImageState", "parse_ws"]
