"""ExplorerView's pictures: PNG (raster or the GL framebuffers) and SVG with the arrows, trails
and particles in page units. Split from explorer.py; ExplorerView.render_image / export_svg call
these."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from flowscope.ui.svg_lines import paint_page_lines

__all__ = ["render_image", "export_svg", "ensure_laid_out", "paint_plots"]


def render_image(view, source: str = "auto") -> QtGui.QImage:
    """Both plots as one QImage (device pixels, devicePixelRatio set).

    source "gl": QOpenGLWidget.grabFramebuffer() of each viewport (what is on screen;
    needs a shown view with GL viewports). "raster": each scene painted by QPainter into
    the image (GLPointsItem draws through its QPainter fallback; works hidden too).
    "auto": "gl" when the view uses GL and is visible, else "raster".
    """
    if source not in ("auto", "gl", "raster"):
        raise ValueError(f"source must be 'auto', 'gl' or 'raster', got {source!r}")
    if source == "auto":
        source = "gl" if view.uses_gl() and view.isVisible() else "raster"
    if source == "gl" and not view.uses_gl():
        raise RuntimeError("render_image(source='gl') needs OpenGL viewports; use 'raster'")
    ensure_laid_out(view)
    dpr = view.devicePixelRatioF()
    image = QtGui.QImage(
        round(view.width() * dpr),
        round(view.height() * dpr),
        QtGui.QImage.Format.Format_ARGB32_Premultiplied,
    )
    image.setDevicePixelRatio(dpr)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    try:
        paint_plots(view, painter, use_framebuffer=(source == "gl"))
    finally:
        painter.end()
    return image


def export_svg(view, path: str) -> None:
    """Vector export via QSvgGenerator (pyqtgraph's SVGExporter fails on current Qt).

    Particles become one SVG point each: large files for many particles.
    """
    from PySide6 import QtSvg  # ships with PySide6-Essentials

    ensure_laid_out(view)
    gen = QtSvg.QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(view.size())
    gen.setViewBox(QtCore.QRect(0, 0, view.width(), view.height()))
    gen.setTitle("flowscope explorer")
    painter = QtGui.QPainter(gen)
    try:
        painter.fillRect(QtCore.QRectF(0, 0, view.width(), view.height()), QtGui.QColor("white"))
        paint_plots(view, painter, use_framebuffer=False, page_lines=True)
    finally:
        painter.end()


def ensure_laid_out(view) -> None:
    """Lay out a never-shown top-level view (shown off-screen once) so scenes fit sizes.

    A view embedded in a hidden parent must have been shown before it can be exported.
    """
    if (
        view.isVisible()
        or not view.isWindow()
        or view.testAttribute(QtCore.Qt.WidgetAttribute.WA_WState_ExplicitShowHide)
    ):
        return
    attr = QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen
    view.setAttribute(attr, True)
    view.show()
    for _ in range(3):  # graphics layouts and the aspect lock settle through posted events
        QtWidgets.QApplication.sendPostedEvents()
    view.set_bounds(view.bounds)
    QtWidgets.QApplication.sendPostedEvents()
    view.hide()
    view.setAttribute(attr, False)


def paint_plots(
    view, painter: QtGui.QPainter, use_framebuffer: bool, page_lines: bool = False
) -> None:
    """page_lines: draw the arrows and trails as segments in page units (vector export)."""
    for side in view.sides():
        widget = side.widget
        vp = widget.viewport()
        target = QtCore.QRectF(QtCore.QPointF(vp.mapTo(view, QtCore.QPoint(0, 0))), vp.size())
        if use_framebuffer:
            painter.drawImage(target, vp.grabFramebuffer())
        else:
            source = widget.mapToScene(vp.rect()).boundingRect()
            painter.fillRect(target, QtGui.QColor("white"))
            lines = side.line_items() if page_lines else []
            shown = [item for item in lines if item.isVisible()]
            for item in shown:
                item.setVisible(False)
            try:
                widget.scene().render(painter, target, source)
            finally:
                for item in shown:
                    item.setVisible(True)
            if shown:
                paint_page_lines(painter, shown, side.plot.getViewBox(), target, source)
    strip = getattr(view, "scale_strip", None)  # the pair's colour bar (raster: no GL there)
    if strip is not None and strip.isVisibleTo(view) and strip.bar.isVisible():
        target = QtCore.QRectF(QtCore.QPointF(strip.mapTo(view, QtCore.QPoint(0, 0))), strip.size())
        strip.scene().render(painter, target, strip.mapToScene(strip.rect()).boundingRect())
