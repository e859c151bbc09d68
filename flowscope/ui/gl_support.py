"""Whether the explorer's plots draw through OpenGL: a GL context can be created, and the
renderer is hardware (under a software rasterizer the raster viewports are faster)."""

from __future__ import annotations

import os

from PySide6 import QtGui

from flowscope.ui.gl_points import GLViewport

_GL_OK: bool | None = None


def gl_available() -> bool:
    """True when QOpenGLWidget viewports will actually draw (a GL context can be created)."""
    global _GL_OK
    if os.environ.get("FLOWSCOPE_OPENGL", "").strip() == "0":
        return False
    if _GL_OK is None:
        app = QtGui.QGuiApplication.instance()
        if app is None:
            return False
        if QtGui.QGuiApplication.platformName() in ("offscreen", "minimal"):
            _GL_OK = False  # GL widgets draw nothing there (PITFALLS.md item 5)
        else:
            if GLViewport is None:
                _GL_OK = False
            else:
                _GL_OK = bool(QtGui.QOpenGLContext().create())
    return _GL_OK


_RENDERER: str | None = None
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software", "swiftshader", "lavapipe")


def gl_renderer() -> str:
    """The GL_RENDERER string of a fresh context ('' when there is none)."""
    global _RENDERER
    if _RENDERER is None:
        _RENDERER = ""
        if gl_available():
            ctx, surf = QtGui.QOpenGLContext(), QtGui.QOffscreenSurface()
            surf.create()
            if ctx.create() and ctx.makeCurrent(surf):
                try:
                    _RENDERER = str(ctx.functions().glGetString(0x1F01) or "")  # GL_RENDERER
                finally:
                    ctx.doneCurrent()
    return _RENDERER


def gl_preferred() -> bool:
    """Use GL viewports by default only on a hardware renderer: under a software rasterizer
    (Mesa llvmpipe) every frame composes the whole window through it, and the raster viewports
    were ~4x faster in bench/gui_soak.py. FLOWSCOPE_OPENGL=1 forces GL, =0 forces raster."""
    flag = os.environ.get("FLOWSCOPE_OPENGL", "").strip()
    if flag == "1":
        return gl_available()
    if not gl_available():
        return False
    return not any(s in gl_renderer().lower() for s in SOFTWARE_RENDERERS)
