"""GLPointsItem: a pyqtgraph item drawing many 2D particles in one OpenGL draw call.

When the view's viewport is a QOpenGLWidget (``PlotWidget.useOpenGL(True)``) the item draws
``GL_POINTS`` from a VBO inside ``QPainter.beginNativePainting()``, with a tiny shader that
makes round anti-aliased sprites (ui/gl_program.py). On any other paint device (raster
``QImage``, ``QWidget.grab()``, SVG, PNG export) it falls back to ``QPainter.drawPoints`` with
a round cosmetic pen, so exports still show the particles (slower: use it for exports, not for
50k-particle animation).

Numpy only; ``setData`` stores references and schedules a repaint, the upload happens in paint.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

try:  # QtOpenGL ships with PySide6-Essentials; stay importable without it
    from PySide6 import QtOpenGL
except ImportError:  # pragma: no cover - depends on the Qt build
    QtOpenGL = None

from .gl_program import GLResources
from .splat import splat

__all__ = ["GLPointsItem", "GLViewport"]

_log = logging.getLogger(__name__)

# GL enums for Qt's QOpenGLFunctions (values from Khronos gl.h / glext.h). Qt is the GL
# binding here: PyOpenGL is not needed (and not a dependency) for nine numbers.
_GL_POINTS = 0x0000
_GL_FLOAT = 0x1406
_GL_BLEND = 0x0BE2
_GL_SCISSOR_TEST = 0x0C11
_GL_SRC_ALPHA = 0x0302
_GL_ONE_MINUS_SRC_ALPHA = 0x0303
_GL_ONE = 1
_GL_PROGRAM_POINT_SIZE = 0x8642
_GL_POINT_SPRITE = 0x8861  # compatibility profile only: makes gl_PointCoord defined
#: particles with at most this many distinct colours (by class) are splatted one colour at a time
MAX_SPLAT_GROUPS = 8


class GLPointsItem(pg.GraphicsObject):
    """N particles as round points of a fixed pixel size; one GL draw call when possible.

    xy: (N, 2) float32 positions in data coordinates; colors: (N, 4) float32 RGBA in 0..1
    (or None: every point gets ``color``); size: point diameter in logical pixels.
    Arrays are kept by reference (not copied): pass a fresh array each frame.
    """

    def __init__(
        self,
        xy: np.ndarray | None = None,
        colors: np.ndarray | None = None,
        size: float = 4.0,
        color: tuple[float, float, float, float] = (0.12, 0.47, 0.71, 0.8),
    ) -> None:
        super().__init__()
        self._xy = np.zeros((0, 2), np.float32)
        self._colors: np.ndarray | None = None
        self._color = tuple(float(c) for c in color)
        self._size = float(size)
        self._rect = QtCore.QRectF()
        self._dirty = True
        self._gl: GLResources | None = None
        self._pad_px: tuple[float, float] | None = None
        self._gl_failed = False
        #: (key, images) of the last raster splat: a repaint for another layer (arrows, the
        #: heatmap, an axis) with the same particles and view draws these again (~2 ms saved)
        self._splat_cache: tuple[tuple, list] | None = None
        #: (colours array, its groups): one array object per result (kept by reference)
        self._groups: tuple[np.ndarray, list] | None = None
        if xy is not None:
            self.setData(xy, colors, size)

    # ------------------------------------------------------------------ data
    def setData(
        self, xy: np.ndarray, colors: np.ndarray | None = None, size: float | None = None
    ) -> None:
        """Store positions (N, 2) and optional colours (N, 4); cheap, the upload is in paint."""
        xy = np.ascontiguousarray(xy, dtype=np.float32)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"GLPointsItem.setData: xy must have shape (N, 2), got {xy.shape}")
        if colors is not None:
            colors = np.ascontiguousarray(colors, dtype=np.float32)
            if colors.shape != (len(xy), 4):
                raise ValueError(
                    f"GLPointsItem.setData: colors must have shape ({len(xy)}, 4), "
                    f"got {colors.shape}; pass None to use one colour"
                )
        if size is not None:
            self._size = float(size)
        self._xy, self._colors, self._dirty = xy, colors, True
        self._splat_cache = None
        self.prepareGeometryChange()
        self._rect = self._data_rect(xy)
        self.informViewBoundsChanged()
        self.update()

    def setColor(self, color: tuple[float, float, float, float]) -> None:
        """The RGBA (0..1) used when no per-point colours are given."""
        self._color = tuple(float(c) for c in color)
        self.update()

    def setPointSize(self, size: float) -> None:
        self._size = float(size)
        self.prepareGeometryChange()
        self.update()

    def pointSize(self) -> float:
        return self._size

    def data(self) -> tuple[np.ndarray, np.ndarray | None]:  # type: ignore[override]
        return self._xy, self._colors

    @staticmethod
    def _data_rect(xy: np.ndarray) -> QtCore.QRectF:
        if len(xy) == 0:
            return QtCore.QRectF()
        # per coordinate over a contiguous copy: numpy's min(axis=0) of an (N, 2) array runs
        # N two-element steps (1.2 ms for 10k points, twice a frame; this: ~0.04 ms)
        cols = np.ascontiguousarray(xy.T)
        lo, hi = cols.min(axis=1), cols.max(axis=1)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            finite = cols[:, np.isfinite(cols).all(axis=0)]
            if finite.shape[1] == 0:
                return QtCore.QRectF()
            lo, hi = finite.min(axis=1), finite.max(axis=1)
        return QtCore.QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))

    # ------------------------------------------------------- pyqtgraph bounds
    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None) -> tuple:
        if self._rect.isNull():
            return (None, None)
        r = self._rect
        return (r.left(), r.right()) if ax == 0 else (r.top(), r.bottom())

    def pixelPadding(self) -> float:
        return 0.5 * self._size + 1.0

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()
        self._pad_px = None
        super().viewTransformChanged()

    def boundingRect(self) -> QtCore.QRectF:
        if self._rect.isNull() and len(self._xy) == 0:
            return QtCore.QRectF()
        if self._pad_px is None:
            px, py = self.pixelVectors()
            self._pad_px = (
                0.0 if px is None else px.length(),
                0.0 if py is None else py.length(),
            )
        pad = self.pixelPadding()
        dx, dy = self._pad_px[0] * pad, self._pad_px[1] * pad
        return self._rect.adjusted(-dx, -dy, dx, dy)

    # ----------------------------------------------------------------- paint
    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        if len(self._xy) == 0:
            return
        engine = painter.paintEngine()
        ctx = QtGui.QOpenGLContext.currentContext()
        if (
            not self._gl_failed
            and QtOpenGL is not None
            and ctx is not None
            and engine is not None
            and engine.type() == QtGui.QPaintEngine.Type.OpenGL2
        ):
            painter.beginNativePainting()
            try:
                self._paint_gl(painter, ctx)
                return
            except Exception:  # a broken driver must not take the app down: draw raster
                _log.exception("GLPointsItem: OpenGL drawing failed; using QPainter from now on")
                self._gl_failed = True
            finally:
                painter.endNativePainting()
        self._paint_raster(painter)

    def _resources(self, ctx: QtGui.QOpenGLContext) -> GLResources:
        if self._gl is None or self._gl.ctx is not ctx:
            if self._gl is not None:
                self._gl.destroy()
            self._gl = GLResources(ctx)
            ctx.aboutToBeDestroyed.connect(self._on_context_destroyed)
            self._dirty = True
        return self._gl

    def _on_context_destroyed(self) -> None:
        if self._gl is not None:
            self._gl.destroy()
            self._gl = None

    def _upload(self, gl: GLResources) -> None:
        xy, colors = self._xy, self._colors
        n = len(xy)
        nbytes = xy.nbytes + (colors.nbytes if colors is not None else 0)
        gl.vbo.bind()
        gl.vbo.allocate(nbytes)  # orphan the old storage: no stall on the previous draw
        gl.vbo.write(0, xy, xy.nbytes)
        if colors is not None:
            gl.vbo.write(xy.nbytes, colors, colors.nbytes)
        gl.vao.bind()
        gl.program.enableAttributeArray(0)
        gl.program.setAttributeBuffer(0, _GL_FLOAT, 0, 2)
        if colors is not None:
            gl.program.enableAttributeArray(1)
            gl.program.setAttributeBuffer(1, _GL_FLOAT, xy.nbytes, 4)
        else:
            gl.program.disableAttributeArray(1)
        gl.vao.release()
        gl.vbo.release()
        gl.count, gl.has_colors, self._dirty = n, colors is not None, False

    def _paint_gl(self, painter: QtGui.QPainter, ctx: QtGui.QOpenGLContext) -> None:
        gl = self._resources(ctx)
        if self._dirty:
            self._upload(gl)
        f = ctx.functions()
        device = painter.device()
        dpr = device.devicePixelRatioF()
        w, h = device.width(), device.height()  # logical pixels

        proj = QtGui.QMatrix4x4()
        proj.ortho(0.0, float(w), float(h), 0.0, -1.0, 1.0)  # y down, like QPainter
        mvp = proj * QtGui.QMatrix4x4(painter.combinedTransform())

        f.glViewport(0, 0, round(w * dpr), round(h * dpr))
        if painter.hasClipping():  # the ViewBox clips its children: honour it with a scissor
            clip = painter.combinedTransform().mapRect(painter.clipBoundingRect())
            x0, y0 = round(clip.left() * dpr), round((h - clip.bottom()) * dpr)
            f.glScissor(x0, y0, round(clip.width() * dpr), round(clip.height() * dpr))
            f.glEnable(_GL_SCISSOR_TEST)
        f.glEnable(_GL_BLEND)
        f.glBlendFuncSeparate(
            _GL_SRC_ALPHA, _GL_ONE_MINUS_SRC_ALPHA, _GL_ONE, _GL_ONE_MINUS_SRC_ALPHA
        )
        desktop = not ctx.isOpenGLES()
        compat = desktop and (
            ctx.format().profile() != QtGui.QSurfaceFormat.OpenGLContextProfile.CoreProfile
        )
        if desktop:
            f.glEnable(_GL_PROGRAM_POINT_SIZE)
        if compat:
            f.glEnable(_GL_POINT_SPRITE)

        gl.program.bind()
        with warnings.catch_warnings():  # PySide may warn about array overloads it skips
            warnings.simplefilter("ignore")
            gl.program.setUniformValue("u_mvp", mvp)
            gl.program.setUniformValue1f("u_size", float(self._size * dpr))
        if not gl.has_colors:  # constant generic attribute for a disabled array
            f.glVertexAttrib4f(1, *self._color)
        gl.vao.bind()
        f.glDrawArrays(_GL_POINTS, 0, gl.count)
        gl.vao.release()
        gl.program.release()

        # leave the shared context as beginNativePainting() handed it to us
        if compat:
            f.glDisable(_GL_POINT_SPRITE)
        if desktop:
            f.glDisable(_GL_PROGRAM_POINT_SIZE)
        f.glDisable(_GL_BLEND)
        f.glDisable(_GL_SCISSOR_TEST)

    def _paint_raster(self, painter: QtGui.QPainter) -> None:
        """Raster fallback: particles splatted into one image with numpy (a few ms for 10k),
        or vector points for vector devices (SVG export)."""
        engine = painter.paintEngine()
        if engine is not None and engine.type() == QtGui.QPaintEngine.Type.Raster:
            self._paint_splat(painter)
        else:
            self._paint_points(painter)

    def _paint_splat(self, painter: QtGui.QPainter) -> None:
        tr = painter.combinedTransform()  # item -> viewport pixels (no backing-store offset)
        dev = painter.device()
        key = (
            self._color, self._size, dev.width(), dev.height(),  # (setData clears the cache)
            tr.m11(), tr.m12(), tr.m21(), tr.m22(), tr.dx(), tr.dy(),
        )  # fmt: skip
        if self._splat_cache is None or self._splat_cache[0] != key:
            self._splat_cache = (key, self._splat_images(tr, dev.width(), dev.height()))
        painter.save()
        painter.resetTransform()
        for point, image, _pixels in self._splat_cache[1]:
            painter.drawImage(point, image)
        painter.restore()

    def _splat_images(self, tr: QtGui.QTransform, width: int, height: int) -> list:
        """(top-left, QImage, its pixel array) per colour group, in device pixels."""
        x, y = self._xy[:, 0], self._xy[:, 1]
        px = tr.m11() * x + tr.m21() * y + tr.dx()
        py = tr.m12() * x + tr.m22() * y + tr.dy()
        images = []
        for sel, color in self._colour_groups():
            xs, ys = (px, py) if sel is None else (px[sel], py[sel])
            out = splat(xs, ys, width, height, self._size, color)
            if out is None:
                continue
            x0, y0, img = out
            h, w = img.shape
            fmt = QtGui.QImage.Format.Format_ARGB32_Premultiplied  # drawn without a conversion
            # (the QImage reads img's memory: img is kept beside it)
            images.append((QtCore.QPointF(x0, y0), QtGui.QImage(img.data, w, h, 4 * w, fmt), img))
        return images

    def _colour_groups(self) -> list:
        """(index or None, colour) per splat: particles coloured by class (a few distinct
        colours) go one class at a time through the single-colour path, ~4x cheaper than
        per-point colours, and Qt composites the class images; anything else in one call."""
        colors = self._colors
        if colors is None:
            return [(None, self._color)]
        if self._groups is not None and self._groups[0] is colors:
            return self._groups[1]  # the same colours as last frame (a result's, every frame)
        keys = np.clip(colors * 255.0 + 0.5, 0, 255).astype(np.uint8).view(np.uint32)
        colours, which = np.unique(keys.ravel(), return_inverse=True)
        if len(colours) > MAX_SPLAT_GROUPS:
            groups = [(None, colors)]
        else:
            groups = [(which == c, colors[int(np.argmax(which == c))]) for c in range(len(colours))]
        self._groups = (colors, groups)  # ~0.4 ms for 10k particles, per plot and paint
        return groups

    def _paint_points(self, painter: QtGui.QPainter) -> None:
        """Vector points: round pen, one drawPoints call per distinct colour. The points are
        written in page units (item transform applied here) with a plain pen: a cosmetic pen
        under the plot's ~50x transform becomes SVG's non-scaling-stroke, which librsvg and
        ImageMagick ignore (each point drew as a blob 50 times too wide)."""
        tr = painter.combinedTransform()
        x, y = self._xy[:, 0].astype(np.float64), self._xy[:, 1].astype(np.float64)
        xy = np.stack([tr.m11() * x + tr.m21() * y + tr.dx(),
                       tr.m12() * x + tr.m22() * y + tr.dy()], 1)  # fmt: skip
        finite = np.isfinite(xy).all(axis=1)
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        if self._colors is None:
            groups = [(self._color, xy[finite])]
        else:
            rgba = np.clip(self._colors[finite] * 255.0 + 0.5, 0, 255).astype(np.uint8)
            pts = xy[finite]
            keys = rgba.view(np.uint32).ravel()
            if len(np.unique(keys)) > 256:  # quantize gradients to at most 16^4 groups
                rgba = (rgba & 0xF0) | 0x08
                keys = rgba.view(np.uint32).ravel()
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            splits = np.cumsum(np.bincount(inverse.ravel(), minlength=len(uniq)))[:-1]
            groups = [
                (tuple(rgba[i] / 255.0), pts[idx]) for i, idx in zip(first, np.split(order, splits))
            ]
        for rgba, pts in groups:
            if len(pts) == 0:
                continue
            pen = QtGui.QPen(QtGui.QColor.fromRgbF(*rgba))
            pen.setWidthF(self._size)
            pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            poly = pg.functions.create_qpolygonf(len(pts))
            pg.functions.ndarray_from_qpolygonf(poly)[:] = pts
            painter.drawPoints(poly)
        painter.restore()


def _make_viewport_class():
    from pyqtgraph.Qt.OpenGLHelpers import GraphicsViewGLWidget

    class GLViewport(GraphicsViewGLWidget):
        """pyqtgraph's QOpenGLWidget viewport whose grabFramebuffer() returns the scene.

        QGraphicsView paints its viewport from paintEvent, so a plain QOpenGLWidget viewport
        has an empty paintGL() and grabFramebuffer() returns a blank image; here paintGL()
        runs the view's paintEvent into the widget's FBO. Install with
        ``view.setViewport(GLViewport())`` (instead of ``view.useOpenGL(True)``).
        """

        def paintGL(self) -> None:
            view = self.parentWidget()
            if isinstance(view, QtWidgets.QGraphicsView):
                view.paintEvent(QtGui.QPaintEvent(self.rect()))

    return GLViewport


GLViewport = _make_viewport_class() if QtOpenGL is not None else None
