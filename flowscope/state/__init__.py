"""One Qt-free application state: parameters only (never tensors), evented (psygnal)."""

from .app_state import AppState, Evented, SamplerParams, TrainingParams
from .image_state import ImageState, parse_ws

__all__ = ["AppState", "Evented", "ImageState", "SamplerParams", "TrainingParams", "parse_ws"]
