"""The raster particle splatter (numpy only): coverage, position and colour of the discs."""

import numpy as np

from flowscope.ui.splat import splat


def _channel(img, c):
    """One channel of premultiplied 0xAARRGGBB pixels as ints 0..255."""
    return ((img >> {"a": 24, "r": 16, "g": 8, "b": 0}[c]) & 0xFF).astype(int)


def _alpha(img):
    return _channel(img, "a") / 255.0


def test_isolated_disc_has_its_area_and_centre():
    x0, y0, img = splat([20.3], [11.7], 64, 48, 6.0, (0.0, 0.0, 1.0, 1.0))
    a = _alpha(img)
    # one disc of radius 3 at alpha 1: opacity = its coverage of each pixel, pi r^2 in total
    assert abs(a.sum() - np.pi * 9) < 0.05 * np.pi * 9
    assert a.max() >= 0.99
    ys, xs = np.nonzero(a > 0)
    cx = (a[ys, xs] * (xs + x0 + 0.5)).sum() / a[ys, xs].sum()
    cy = (a[ys, xs] * (ys + y0 + 0.5)).sum() / a[ys, xs].sum()
    assert abs(cx - 20.3) < 0.15 and abs(cy - 11.7) < 0.15
    assert img.dtype == np.uint32
    b, a = _channel(img, "b"), _channel(img, "a")
    assert (b == a).all() and _channel(img, "r").max() == _channel(img, "g").max() == 0


def test_overlap_darkens_and_per_point_colours_mix():
    one = _alpha(splat([10.0], [10.0], 32, 32, 4.0, (1, 0, 0, 0.3))[2]).max()
    many = _alpha(splat([10.0] * 5, [10.0] * 5, 32, 32, 4.0, (1, 0, 0, 0.3))[2]).max()
    assert abs(one - 0.3) <= 1.5 / 255
    assert abs(many - (1 - 0.7**5)) <= 1.5 / 255  # 5 x "over" blending at alpha 0.3
    cols = np.array([[1, 0, 0, 1], [0, 0, 1, 1]], np.float32)
    _, _, img = splat([10.0, 10.0], [10.0, 10.0], 32, 32, 4.0, cols)
    r, b = _channel(img, "r"), _channel(img, "b")
    assert r.max() > 50 and abs(r - b).max() <= 1  # equal parts red and blue


def test_points_off_the_device_or_not_finite_are_dropped():
    assert splat([-50.0, 500.0], [5.0, 5.0], 100, 100, 3.0, (0, 0, 0, 1)) is None
    assert splat([np.nan], [1.0], 100, 100, 3.0, (0, 0, 0, 1)) is None
    x0, y0, img = splat([0.0, np.inf], [0.0, 3.0], 100, 100, 3.0, (0, 0, 0, 1))
    assert x0 == 0 and y0 == 0 and img.shape[0] <= 4 and img.shape[1] <= 4


def test_points_just_off_every_edge_touch_the_border_pixels_only():
    xs = np.array([-0.9, 40.9, 20.0, 20.0], np.float32)
    ys = np.array([15.0, 15.0, -0.9, 30.9], np.float32)
    x0, y0, img = splat(xs, ys, 41, 31, 4.0, (0, 0, 0, 1))
    assert (x0, y0) == (0, 0) and img.shape == (31, 41)
    a = _channel(img, "a")
    assert a[15, 0] > 0 and a[15, -1] > 0 and a[0, 20] > 0 and a[-1, 20] > 0
    assert a[15, 5:36].max() == 0 and a[5:26, 20].max() == 0  # nothing wrapped around


def test_many_points_give_a_contiguous_image_qimage_can_wrap():
    """GLPointsItem wraps the array's buffer in a QImage (stride 4 x width): it must be a
    C-contiguous uint32 array of the device region, equal to one lookup per accumulated value."""
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(-3, 203, 5000), rng.uniform(-3, 153, 5000)
    x0, y0, img = splat(xs, ys, 200, 150, 2.5, (0.2, 0.4, 0.6, 0.5))
    assert img.dtype == np.uint32 and img.flags.c_contiguous
    assert (x0, y0) == (0, 0) and img.shape == (150, 200)
    a = _alpha(img)
    assert 0.0 < a.mean() < 1.0 and a.max() <= 1.0

