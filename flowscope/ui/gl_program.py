"""The GL program and buffers of GLPointsItem (ui/gl_points.py): round anti-aliased point
sprites, one GLSL source for ES 2, core and compatibility contexts.

Qt is the GL binding (QOpenGLShaderProgram, QOpenGLBuffer, QOpenGLVertexArrayObject).
"""

from __future__ import annotations

from PySide6 import QtGui

try:  # QtOpenGL ships with PySide6-Essentials; stay importable without it
    from PySide6 import QtOpenGL
except ImportError:  # pragma: no cover - depends on the Qt build
    QtOpenGL = None

__all__ = ["GLResources", "shader_sources"]

_VERT_BODY = """
uniform mat4 u_mvp;
uniform float u_size;
void main() {
    gl_Position = u_mvp * vec4(a_position, 0.0, 1.0);
    gl_PointSize = u_size + 1.0;
    v_color = a_color;
}
"""
# Coverage of a disc of diameter u_size (device px) inside a sprite one pixel wider:
# a one-pixel linear ramp at the rim gives round, anti-aliased points at any size.
_FRAG_BODY = """
uniform float u_size;
void main() {
    float d = length(gl_PointCoord - vec2(0.5)) * (u_size + 1.0);
    float cover = clamp(0.5 * u_size + 0.5 - d, 0.0, 1.0);
    if (cover <= 0.0) discard;
    FRAG_OUT = vec4(v_color.rgb, v_color.a * cover);
}
"""


def shader_sources(ctx: QtGui.QOpenGLContext) -> tuple[str, str]:
    """GLSL for the context: ES 2 (#version 100), core (330) or compatibility (120)."""
    if ctx.isOpenGLES():
        head_v = "#version 100\nattribute vec2 a_position;\nattribute vec4 a_color;\n"
        head_v += "varying vec4 v_color;\n"
        head_f = "#version 100\nprecision mediump float;\nvarying vec4 v_color;\n"
        out = "gl_FragColor"
    elif ctx.format().profile() == QtGui.QSurfaceFormat.OpenGLContextProfile.CoreProfile:
        head_v = "#version 330 core\nin vec2 a_position;\nin vec4 a_color;\nout vec4 v_color;\n"
        head_f = "#version 330 core\nin vec4 v_color;\nout vec4 frag_color;\n"
        out = "frag_color"
    else:
        head_v = "#version 120\nattribute vec2 a_position;\nattribute vec4 a_color;\n"
        head_v += "varying vec4 v_color;\n"
        head_f = "#version 120\nvarying vec4 v_color;\n"
        out = "gl_FragColor"
    return head_v + _VERT_BODY, head_f + _FRAG_BODY.replace("FRAG_OUT", out)


class GLResources:
    """Program, VAO and VBO living in one GL context."""

    def __init__(self, ctx: QtGui.QOpenGLContext) -> None:
        self.ctx = ctx
        self.program = QtOpenGL.QOpenGLShaderProgram()
        vert, frag = shader_sources(ctx)
        stage = QtOpenGL.QOpenGLShader.ShaderTypeBit
        if not self.program.addShaderFromSourceCode(stage.Vertex, vert):
            raise RuntimeError(f"GLPointsItem vertex shader: {self.program.log()}")
        if not self.program.addShaderFromSourceCode(stage.Fragment, frag):
            raise RuntimeError(f"GLPointsItem fragment shader: {self.program.log()}")
        self.program.bindAttributeLocation("a_position", 0)
        self.program.bindAttributeLocation("a_color", 1)
        if not self.program.link():
            raise RuntimeError(f"GLPointsItem link: {self.program.log()}")
        self.vao = QtOpenGL.QOpenGLVertexArrayObject()
        self.vao.create()
        self.vbo = QtOpenGL.QOpenGLBuffer(QtOpenGL.QOpenGLBuffer.Type.VertexBuffer)
        self.vbo.create()
        self.vbo.setUsagePattern(QtOpenGL.QOpenGLBuffer.UsagePattern.StreamDraw)
        self.count = 0
        self.has_colors = False

    def destroy(self) -> None:
        self.vao.destroy()
        self.vbo.destroy()
        self.program.removeAllShaders()
