"""ExplorerView and GLPointsItem: property checks on rendered pixels (tolerances, no goldens).

GL tests need a real GL context: run under
xvfb-run -a -s "-screen 0 1280x1024x24 +extension GLX +render -noreset" with QT_QPA_PLATFORM=xcb.
They skip where the view falls back to raster (e.g. QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyqtgraph")
from PySide6 import QtCore, QtGui  # noqa: E402

from flowscope.ui.explorer import ExplorerView, gl_available  # noqa: E402
from flowscope.ui.field_items import FILL, HEAD_CAP, arrow_segments, grid_spacing  # noqa: E402

pytestmark = pytest.mark.gui

RED = np.array([1.0, 0.0, 0.0, 1.0], np.float32)


@pytest.fixture
def view(qtbot):
    v = ExplorerView(use_gl=gl_available())  # the GL path itself is under test here
    qtbot.addWidget(v)
    v.resize(800, 400)
    v.show()
    qtbot.waitExposed(v)
    v.set_bounds((-3, 3, -3, 3))
    return v


@pytest.fixture
def gl_view(view):
    if not view.uses_gl():
        pytest.skip("needs an OpenGL context (run under xvfb-run with Mesa, platform xcb)")
    return view


def _to_rgb(img: QtGui.QImage) -> np.ndarray:
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return arr[:, : img.width(), :3].astype(np.int32)


def _grab_left(view: ExplorerView) -> np.ndarray:
    """Left viewport pixels through its GL framebuffer (paints synchronously)."""
    vp = view.widgets()[0].viewport()
    vp.grabFramebuffer()  # first paint brings the ViewBox transform up to date
    return _to_rgb(vp.grabFramebuffer())


def _pixel_box(view: ExplorerView, x0, x1, y0, y1, plot: int = 0) -> tuple[slice, slice]:
    """Image (rows, cols) covering data box [x0, x1] x [y0, y1] in one plot's viewport."""
    widget = view.widgets()[plot]
    vb = view.plots()[plot].getViewBox()
    dpr = widget.devicePixelRatioF()
    corners = []
    for x, y in ((x0, y0), (x1, y1)):
        p = widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
        corners.append((p.x() * dpr, p.y() * dpr))
    (ca, ra), (cb, rb) = corners
    rows = slice(int(round(min(ra, rb))), int(round(max(ra, rb))))
    cols = slice(int(round(min(ca, cb))), int(round(max(ca, cb))))
    return rows, cols


def _red(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 150) & (img[..., 1] < 110) & (img[..., 2] < 110)


def _ink(img: np.ndarray) -> np.ndarray:
    """Clearly non-white pixels."""
    return img.sum(axis=-1) < 600


def _red_particles(n: int = 2000) -> np.ndarray:
    return (1.0 + np.random.default_rng(0).random((n, 2))).astype(np.float32)


def test_gl_particles_land_where_the_viewbox_maps_them(gl_view):
    gl_view.set_particles("ode", _red_particles(), np.tile(RED, (2000, 1)))
    img = _grab_left(gl_view)
    inside = _red(img[_pixel_box(gl_view, 1.1, 1.9, 1.1, 1.9)])
    opposite = _red(img[_pixel_box(gl_view, -2.0, -1.0, -2.0, -1.0)])
    assert inside.size > 400  # the box is a real patch of pixels
    assert inside.mean() > 0.5, f"only {inside.mean():.2f} of the box is red"
    assert opposite.sum() <= 3
    assert _red(img).sum() < 1.6 * _red(img[_pixel_box(gl_view, 0.9, 2.1, 0.9, 2.1)]).sum()
    item = gl_view.particles_item("ode")
    assert item._gl is not None and not item._gl_failed  # drawn by OpenGL, not the fallback


def test_gl_particles_are_clipped_to_the_viewbox(gl_view):
    xy = np.random.default_rng(2).uniform(-9, 9, size=(20000, 2)).astype(np.float32)
    gl_view.set_particles("ode", xy, np.tile(RED, (len(xy), 1)))
    img = _grab_left(gl_view)
    widget = gl_view.widgets()[0]
    vb_rect = widget.mapFromScene(
        gl_view.plots()[0].getViewBox().sceneBoundingRect()
    ).boundingRect()
    dpr = widget.devicePixelRatioF()
    left, bottom = int(vb_rect.left() * dpr), int(vb_rect.bottom() * dpr)
    assert _red(img[: bottom - 2, left + 2 :]).mean() > 0.05  # inside: plenty
    assert _red(img[:, : left - 2]).sum() <= 3  # over the left axis: none
    assert _red(img[bottom + 2 :, :]).sum() <= 3  # over the bottom axis: none


def test_gl_particles_reach_the_screen(gl_view, qtbot):
    """What the window shows (X server framebuffer), not just the widget's FBO."""
    gl_view.set_particles("ode", _red_particles(), np.tile(RED, (2000, 1)))
    widget = gl_view.widgets()[0]
    screen = widget.screen()
    origin = widget.viewport().mapToGlobal(QtCore.QPoint(0, 0))
    rows, cols = _pixel_box(gl_view, 1.1, 1.9, 1.1, 1.9)

    def _on_screen() -> bool:
        shot = screen.grabWindow(0, origin.x(), origin.y(), widget.width(), widget.height())
        img = _to_rgb(shot.toImage())
        return bool(_red(img[rows, cols]).mean() > 0.5)

    qtbot.waitUntil(_on_screen, timeout=30_000)  # bounds a hang: the X server paints when it can


def test_render_image_includes_gl_particles(gl_view):
    gl_view.set_particles("ode", _red_particles(), np.tile(RED, (2000, 1)))
    _grab_left(gl_view)
    img = _to_rgb(gl_view.render_image("gl"))
    rows, cols = _pixel_box(gl_view, 1.1, 1.9, 1.1, 1.9)  # left plot sits at (0, 0)
    assert _red(img[rows, cols]).mean() > 0.5


def test_particles_layer_toggle_hides_them(gl_view):
    gl_view.set_particles("ode", _red_particles(), np.tile(RED, (2000, 1)))
    assert _red(_grab_left(gl_view)).sum() > 500
    gl_view.set_layer_visible("particles", False)
    assert _red(_grab_left(gl_view)).sum() <= 3
    gl_view.set_layer_visible("particles", True)
    assert _red(_grab_left(gl_view)).sum() > 500


def test_rotation_field_draws_arrows_and_toggles(gl_view):
    g = np.linspace(-3, 3, 15)
    x, y = np.meshgrid(g, g)
    origins = np.stack([x.ravel(), y.ravel()], axis=1)
    gl_view.set_layer_visible("field", True)
    box = _pixel_box(gl_view, -2.8, 2.8, -2.8, 2.8)
    before = _ink(_grab_left(gl_view)[box]).sum()
    gl_view.set_field("ode", origins, np.stack([-origins[:, 1], origins[:, 0]], axis=1))
    with_arrows = _ink(_grab_left(gl_view)[box]).sum()
    assert with_arrows - before > 1500, (before, with_arrows)
    gl_view.set_layer_visible("field", False)
    assert _ink(_grab_left(gl_view)[box]).sum() - before < 50


def test_density_row_zero_is_the_top(gl_view):
    image = np.zeros((64, 64))
    image[:8] = 1.0  # bright top rows
    gl_view.set_density("ode", image, (-3.0, 3.0, -3.0, 3.0))
    img = _grab_left(gl_view)
    top = _ink(img[_pixel_box(gl_view, -2.5, 2.5, 2.45, 2.95)]).mean()
    bottom = _ink(img[_pixel_box(gl_view, -2.5, 2.5, -2.95, -2.45)]).mean()
    assert top > 0.9 and bottom < 0.05, (top, bottom)
    gl_view.set_layer_visible("density", False)
    assert _ink(_grab_left(gl_view)[_pixel_box(gl_view, -2.5, 2.5, 2.45, 2.95)]).mean() < 0.1


def test_linked_pan_moves_the_right_plot(view, qtbot):
    left, right = view.plots()
    left.getViewBox().setRange(xRange=(0.0, 4.0), yRange=(0.0, 4.0), padding=0.0)

    def _follows() -> bool:
        (lx, ly), (rx, ry) = left.viewRange(), right.viewRange()
        return bool(np.allclose(lx, rx, atol=0.05) and np.allclose(ly, ry, atol=0.05))

    qtbot.waitUntil(_follows, timeout=30_000)  # bounds a hang only
    (rx0, rx1), (ry0, ry1) = right.viewRange()
    assert abs((rx0 + rx1) / 2 - 2.0) < 0.2 and abs((ry0 + ry1) / 2 - 2.0) < 0.2


def test_raster_fallback_draws_particles(view):
    """QPainter on a QImage (export path): GLPointsItem splats; red particles come out red."""
    view.set_particles("sde", _red_particles(), np.tile(RED, (2000, 1)))
    view.set_particles("ode", _red_particles())  # one colour, no per-point colours
    img = _to_rgb(view.render_image("raster"))
    offset = round(
        view.widgets()[1].mapTo(view, QtCore.QPoint(0, 0)).x() * view.devicePixelRatioF()
    )

    def right_box(*box):
        rows, cols = _pixel_box(view, *box, plot=1)
        return rows, slice(cols.start + offset, cols.stop + offset)

    assert _red(img[right_box(1.1, 1.9, 1.1, 1.9)]).mean() > 0.5
    assert _red(img[right_box(-2.0, -1.0, -2.0, -1.0)]).sum() <= 3
    assert _red(img).sum() < 1.6 * _red(img[right_box(0.9, 2.1, 0.9, 2.1)]).sum()
    left_rows, left_cols = _pixel_box(view, 1.1, 1.9, 1.1, 1.9, plot=0)
    assert _ink(img[left_rows, left_cols]).mean() > 0.5  # the ODE side's default blue


def test_render_image_of_a_never_shown_view(qtbot):
    view = ExplorerView()
    qtbot.addWidget(view)
    view.resize(800, 400)
    view.set_particles("ode", _red_particles(), np.tile(RED, (2000, 1)))
    img = _to_rgb(view.render_image())
    assert img.shape[:2] == (400, 800)
    assert _red(img[_pixel_box(view, 1.1, 1.9, 1.1, 1.9)]).mean() > 0.5
    assert _red(img[_pixel_box(view, -2.0, -1.0, -2.0, -1.0)]).sum() <= 3


def test_raster_fallback_with_many_colours(view):
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(5000, 2)).astype(np.float32)
    view.set_particles("ode", xy, rng.random((5000, 4)).astype(np.float32))
    img = _to_rgb(view.render_image("raster"))
    # overlapping points of random colours average towards grey: ink, though not black
    assert _ink(img[_pixel_box(view, -0.5, 0.5, -0.5, 0.5)]).mean() > 0.35
    assert _ink(img[_pixel_box(view, 2.6, 2.9, 2.6, 2.9)]).mean() < 0.05  # the tails: sparse


def test_export_svg_writes_a_document(view, tmp_path):
    view.set_particles("ode", _red_particles(50))
    path = tmp_path / "explorer.svg"
    view.export_svg(str(path))
    text = path.read_text()
    assert "<svg" in text and "ODE" in text


def test_set_particles_validates_shapes(view):
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        view.set_particles("ode", np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="colors"):
        view.set_particles("ode", np.zeros((5, 2), np.float32), np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="which"):
        view.set_particles("left", np.zeros((5, 2), np.float32))


def test_particle_bounds_are_the_finite_points_box(view):
    """The particles item's data bounds (what pyqtgraph's auto-range reads): the box of the
    finite points, per coordinate; a blown-up SDE particle (inf, nan) does not stretch it."""
    rng = np.random.default_rng(3)
    xy = rng.normal(size=(2000, 2)).astype(np.float32) * [1.0, 3.0]
    item = view.particles_item("sde")
    view.set_particles("sde", xy)
    assert item.dataBounds(0) == pytest.approx((xy[:, 0].min(), xy[:, 0].max()))
    assert item.dataBounds(1) == pytest.approx((xy[:, 1].min(), xy[:, 1].max()))
    bad = xy.copy()
    bad[5] = np.nan
    bad[9, 1] = np.inf
    bad[11, 0] = -np.inf
    view.set_particles("sde", bad)
    keep = np.isfinite(bad).all(axis=1)
    assert item.dataBounds(0) == pytest.approx((bad[keep, 0].min(), bad[keep, 0].max()))
    assert item.dataBounds(1) == pytest.approx((bad[keep, 1].min(), bad[keep, 1].max()))
    view.set_particles("sde", np.full((4, 2), np.nan, np.float32))
    assert item.dataBounds(0) == (None, None)


def test_arrow_geometry_scales_to_the_grid_and_skips_zeros():
    g = np.linspace(-3, 3, 15)
    x, y = np.meshgrid(g, g)
    origins = np.stack([x.ravel(), y.ravel()], axis=1)
    vectors = np.stack([-origins[:, 1], origins[:, 0]], axis=1)  # zero at the centre
    cell = grid_spacing(origins)
    assert cell == pytest.approx(6 / 14)
    shafts, heads = arrow_segments(origins, vectors)
    assert len(shafts) == 2 * (len(origins) - 1) and len(heads) == 4 * (len(origins) - 1)
    lengths = np.linalg.norm(shafts[1::2] - shafts[0::2], axis=1)
    assert lengths.max() == pytest.approx(FILL * cell)
    head_len = np.linalg.norm(heads[1::2] - heads[0::2], axis=1)
    assert head_len.max() <= HEAD_CAP * cell + 1e-9
    empty_s, empty_h = arrow_segments(origins, np.zeros_like(origins))
    assert len(empty_s) == 0 and len(empty_h) == 0


def test_trails_become_pairs(view):
    positions = np.cumsum(np.ones((5, 10, 2), np.float32), axis=0)
    view.set_trails("ode", positions)
    x, y = view._sides["ode"].trails.getData()
    assert len(x) == 2 * 4 * 10
    assert np.allclose(x[1::2] - x[0::2], 1.0)
    view.set_trails("ode", None)
    assert view._sides["ode"].trails.getData()[0] is None


def test_the_pixmap_cache_holds_every_cached_layer(qtbot):
    """Raster plots keep their heatmap and axes as plot-sized pixmaps; Qt's default 10 MB cache
    held only some at ~650 x 650 and they were re-rendered every frame."""
    view = ExplorerView(use_gl=False)
    qtbot.addWidget(view)
    view.resize(1500, 800)
    view.show()
    qtbot.waitExposed(view)
    dpr = view.devicePixelRatioF()
    need = sum(
        len(side.cached_items()) * side.widget.width() * side.widget.height() * dpr * dpr * 4
        for side in view._sides.values()
    )
    assert need > 0
    assert QtGui.QPixmapCache.cacheLimit() * 1024 >= need


def test_one_colour_bar_for_the_pair_with_both_images_levels_and_in_the_export(view, qtbot):
    """The ODE and SDE heatmaps share one colour bar right of the pair: its levels span both
    images (one colour = one value in both plots), and the exported picture shows it."""
    a = np.zeros((32, 32))
    a[:16] = 2.0  # top half of the ODE's image at 2
    b = np.zeros((32, 32))
    b[:16] = 5.0  # the SDE's at 5: the scale's top
    bounds = (-3.0, 3.0, -3.0, 3.0)
    view.set_density("ode", a, bounds, label="counts")
    view.set_density("sde", b, bounds, label="counts")
    strip = view.scale_strip
    assert strip.visible and strip.levels == (0.0, 5.0) and strip.label == "counts"
    # its label beside the colours: pyqtgraph measured the label's axis 0 px wide while hidden
    assert strip.bar.getAxis("left").maximumWidth() >= 10
    for side in view._sides.values():
        assert tuple(side.density.levels) == (0.0, 5.0)
    # right of both plots, inside the view
    right = max(w.mapTo(view, QtCore.QPoint(w.width(), 0)).x() for w in view.widgets())
    x0 = strip.mapTo(view, QtCore.QPoint(0, 0)).x()
    assert x0 >= right and x0 + strip.width() <= view.width()
    qtbot.waitUntil(lambda: strip.bar.geometry().height() > 100, timeout=5_000)
    img = _to_rgb(view.render_image("raster"))
    dpr = view.devicePixelRatioF()
    strip_px = img[:, int(x0 * dpr) : int((x0 + strip.width()) * dpr)]
    # the bar's top colour (the density map's darkest grey) is in the exported strip
    top = np.asarray(strip.cmap.map(1.0, mode="byte"))[:3].astype(int)
    assert (np.abs(strip_px - top).sum(axis=-1) < 30).sum() > 20
    # the ODE's half-scale colour in its plot: the image is drawn with the shared levels
    rows, cols = _pixel_box(view, -2.5, 2.5, 0.5, 2.5)
    mid = np.asarray(strip.cmap.map(0.4, mode="byte"))[:3].astype(int)
    ode_top = img[rows, cols]
    assert np.median(np.abs(ode_top - mid).sum(axis=-1)) < 40
    # hiding both images hides the bar
    view.set_density("both", None)
    assert not strip.visible


def test_a_long_title_shrinks_and_both_plots_keep_one_size(qtbot):
    """The SDE title without the score term is wider than a 280-px plot: it is drawn smaller
    inside its plot instead of widening that plot (the view boxes stay equal, one x range)."""
    view = ExplorerView(use_gl=False)
    qtbot.addWidget(view)
    view.resize(560, 380)
    view.show()
    qtbot.waitExposed(view)
    view.set_bounds((-3, 3, -3, 3))
    view.set_sde_title(True)
    (ode, sde), (_, sde_widget) = view.plots(), view.widgets()
    assert not view.pair_layout.stacked()

    def settled() -> bool:
        title = sde.titleLabel
        r = sde_widget.mapFromScene(title.item.sceneBoundingRect()).boundingRect()
        return (
            title.text_scale() < 1.0
            and r.left() >= -1
            and r.right() <= sde_widget.width() + 1
            and abs(ode.vb.width() - sde.vb.width()) <= 2
        )

    qtbot.waitUntil(settled, timeout=5_000)
    assert ode.vb.viewRange()[0] == pytest.approx(sde.vb.viewRange()[0], abs=0.05)
    view.set_sde_title(False)  # the usual title fits again at full size at 1366 x 768 widths
    view.resize(1100, 420)
    qtbot.waitUntil(lambda: sde.titleLabel.text_scale() == 1.0, timeout=5_000)
