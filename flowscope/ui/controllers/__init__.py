"""Controllers shared by the 2D and the image window (ARCHITECTURE.md, ui/controllers): small
QObjects with public methods and signals. The windows hold layout and wiring; scripted mode, the
exports and the benchmarks drive these public methods, never a window's private attributes."""

from .requests import RequestChannel
from .session import SessionController

__all__ = ["RequestChannel", "SessionController"]
