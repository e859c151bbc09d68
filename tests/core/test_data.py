"""Targets: presets, image import, point files and drawings (flowscope.core.data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from flowscope.core.data import (
    PRESETS,
    DataError,
    Drawing,
    LabelledSamples,
    Stroke,
    Target,
    list_presets,
    load_target,
)

LABELLED = {"eight_gaussians": 8, "two_moons": 2, "circles": 2, "spirals": 2}


def _points(s):
    return s.points if isinstance(s, LabelledSamples) else s


# ---------------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_samples(name):
    t = load_target(name)
    assert isinstance(t, Target) and t.kind == "preset" and t.name == name
    s = t.sample(2000, seed=3)
    pts = _points(s)
    assert pts.shape == (2000, 2) and pts.dtype == torch.float32
    xmin, xmax, ymin, ymax = t.bounds
    assert xmin <= -3 and xmax >= 3 and ymin <= -3 and ymax >= 3
    inside = (pts[:, 0] > xmin) & (pts[:, 0] < xmax) & (pts[:, 1] > ymin) & (pts[:, 1] < ymax)
    assert inside.float().mean() > 0.99
    assert pts.abs().max() < 4.0 and 0.3 < pts.std(0).max() < 2.5
    assert torch.equal(pts, _points(t.sample(2000, seed=3)))
    assert not torch.equal(pts, _points(t.sample(2000, seed=4)))
    if name in LABELLED:
        assert isinstance(s, LabelledSamples)
        assert s.labels.shape == (2000,) and s.labels.dtype == torch.int64
        assert t.num_classes == LABELLED[name] == len(t.class_names)
        assert set(s.labels.tolist()) == set(range(LABELLED[name]))
    else:
        assert isinstance(s, torch.Tensor) and t.num_classes == 0 and t.class_names is None


@pytest.mark.parametrize("spelling", ["Two Moons", "two-moons", "TWO_MOONS", " two moons "])
def test_preset_names_are_forgiving(spelling):
    assert load_target(spelling).name == "two_moons"


def test_unknown_preset_lists_names():
    with pytest.raises(DataError, match="checkerboard"):
        load_target("three_moons")
    assert list_presets() == list(PRESETS) and "logo" in PRESETS


def test_unknown_option_is_a_clear_error():
    with pytest.raises(DataError, match="valid options"):
        load_target("circles", colour="red")


def _in_filled_square(pts: torch.Tensor) -> torch.Tensor:
    i, j = torch.floor(pts[:, 0] + 2), torch.floor(pts[:, 1] + 2)
    on_board = (i >= 0) & (i < 4) & (j >= 0) & (j < 4)
    return on_board & ((i + j) % 2 == 0)


def test_checkerboard_fills_alternate_squares():
    t = load_target("checkerboard")
    pts = t.sample(20000, seed=0)
    filled = _in_filled_square(pts)
    assert filled.float().mean() > 0.95
    i, j = torch.floor(pts[:, 0] + 2), torch.floor(pts[:, 1] + 2)
    empty = (i >= 0) & (i < 4) & (j >= 0) & (j < 4) & ((i + j) % 2 == 1)
    assert empty.float().mean() < 0.05
    # nearly flat inside a square: the four quadrants of one square get similar counts
    sq = pts[(pts[:, 0] > -2) & (pts[:, 0] < -1) & (pts[:, 1] > -2) & (pts[:, 1] < -1)]
    q = ((sq[:, 0] > -1.5).long() * 2 + (sq[:, 1] > -1.5).long()).bincount(minlength=4)
    assert q.min() > 0.8 * q.max()


def test_exact_log_prob_prefers_samples_to_empty_regions():
    t = load_target("checkerboard")
    x = t.sample(500, seed=1)
    empty_centres = torch.tensor([[-0.5, -1.5], [0.5, -0.5], [-1.5, 1.5], [1.5, 0.5]])
    assert not _in_filled_square(empty_centres).any()
    lp_samples = t.exact.log_prob(x, 1.0)
    lp_empty = t.exact.log_prob(empty_centres, 1.0)
    assert lp_samples.median() > lp_empty.max() + 5
    g = load_target("eight_gaussians")
    lp_ring = g.exact.log_prob(g.sample(200, seed=0).points, 1.0)
    assert lp_ring.min() > g.exact.log_prob(torch.zeros(1, 2), 1.0).item() + 10


def test_gaussian_preset_matches_closed_form():
    t = load_target("gaussian")
    x = torch.tensor([[0.0, 0.0], [0.5, -0.5]], dtype=torch.float64)
    expect = -np.log(2 * np.pi * 0.25) - (x**2).sum(1) / (2 * 0.25)
    torch.testing.assert_close(t.exact.log_prob(x, 1.0), expect)


# ---------------------------------------------------------------------------------- images
def test_image_orientation_dark_block_top_left(tmp_path):
    a = np.full((20, 30), 255, np.uint8)
    a[:5, :6] = 0  # top-left corner
    Image.fromarray(a).save(tmp_path / "corner.png")
    t = load_target(tmp_path / "corner.png")
    assert t.kind == "image" and t.name == "corner" and t.n_components == 30
    pts = t.sample(1000, seed=0)
    assert (pts[:, 0] < 0).all() and (pts[:, 1] > 0).all()
    assert pts[:, 0].min() > -3.3 and pts[:, 1].max() < 3.0 * 20 / 30 + 0.3  # longer side = 2*box


def test_image_rgba_transparent_background_has_no_mass(tmp_path):
    a = np.zeros((16, 16, 4), np.uint8)  # fully transparent black
    a[10:, 10:] = (0, 0, 255, 255)  # an opaque blue block, bottom-right
    Image.fromarray(a).save(tmp_path / "rgba.png")
    t = load_target(str(tmp_path / "rgba.png"))
    assert t.n_components == 36
    pts = t.sample(500, seed=0)
    assert (pts[:, 0] > 0).all() and (pts[:, 1] < 0).all()


def test_image_modes_and_downsampling(tmp_path):
    a = np.full((100, 200), 255, np.uint8)
    a[40:60, 20:180] = 0
    Image.fromarray(a).convert("P").save(tmp_path / "pal.gif")
    Image.fromarray(a.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    Image.fromarray(np.stack([a] * 3, -1)).save(tmp_path / "rgb.jpg", quality=90)
    for f in ("pal.gif", "deep.png", "rgb.jpg"):
        t = load_target(tmp_path / f, max_pixels=500)
        pts = t.sample(1000, seed=0)
        assert t.n_components < 500
        assert pts[:, 1].abs().max() < 0.6 and pts[:, 0].abs().max() < 3.0, f
    inv = load_target(tmp_path / "deep.png", max_pixels=500, invert=True).sample(1000, seed=0)
    in_band = (inv[:, 1].abs() < 0.25) & (inv[:, 0].abs() < 2.3)
    assert in_band.float().mean() < 0.02  # inverted: the dark band carries no mass


def test_image_errors(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DataError, match="could not read the image"):
        load_target(tmp_path / "bad.png")
    Image.new("RGB", (8, 8), "white").save(tmp_path / "white.png")
    with pytest.raises(DataError, match="no dark pixels"):
        load_target(tmp_path / "white.png")
    with pytest.raises(DataError, match="file not found"):
        load_target(tmp_path / "missing.png")
    (tmp_path / "notes.docx").write_text("hi")
    with pytest.raises(DataError, match="unsupported file type"):
        load_target(tmp_path / "notes.docx")


# ---------------------------------------------------------------------------------- points
def test_csv_with_header_and_labels(tmp_path):
    f = tmp_path / "pts.csv"
    f.write_text("x,y,label\n0,0,5\n1,1,5\n2,2,9\n-1,0.5,7\n")
    t = load_target(f)
    assert t.kind == "points" and t.class_names == ["5", "7", "9"] and t.num_classes == 3
    assert t.exact.widths.max() == 0.0  # point masses
    s = t.sample(300, seed=0)
    back = {tuple(p) for p in s.points.tolist()}
    assert back <= {(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (-1.0, 0.5)}
    assert set(s.labels.tolist()) == {0, 1, 2}
    assert (s.labels[s.points[:, 0] == 2.0] == 2).all()  # label 9 -> class 2
    assert load_target(f, width=0.1).exact.widths.min() == pytest.approx(0.1)


def test_whitespace_txt_without_header(tmp_path):
    f = tmp_path / "pts.txt"
    f.write_text("# my points\n0.5   1.5\n\n-2\t3  # trailing comment\n")
    t = load_target(f)
    assert t.num_classes == 0 and t.n_components == 2
    assert set(map(tuple, t.sample(50, seed=0).tolist())) <= {(0.5, 1.5), (-2.0, 3.0)}


def test_npy_two_and_three_columns(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert load_target(tmp_path / "a.npy").num_classes == 0
    np.save(tmp_path / "b.npy", np.array([[0.0, 1.0, 3], [2.0, 3.0, 1], [1.0, 1.0, 3]]))
    t = load_target(tmp_path / "b.npy")
    assert t.class_names == ["1", "3"]
    np.save(tmp_path / "c.npy", np.array([[0.0, 1.0, 0.5]]))
    with pytest.raises(DataError, match="not an integer"):
        load_target(tmp_path / "c.npy")
    np.save(tmp_path / "d.npy", np.zeros((3, 4)))
    with pytest.raises(DataError, match=r"\(N, 2\) or \(N, 3\)"):
        load_target(tmp_path / "d.npy")
    np.save(tmp_path / "e.npy", np.zeros((0, 2)))
    with pytest.raises(DataError, match="no points"):
        load_target(tmp_path / "e.npy")


def test_nan_row_is_named(tmp_path):
    f = tmp_path / "nan.csv"
    f.write_text("x,y\n0,0\n1,1\nnan,2\n")
    with pytest.raises(DataError, match="line 4"):
        load_target(f)
    np.save(tmp_path / "inf.npy", np.array([[0.0, 0.0], [1.0, np.inf]]))
    with pytest.raises(DataError, match="row 1"):
        load_target(tmp_path / "inf.npy")


def test_text_file_errors(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("1,2\n3,4,5,6\n")
    with pytest.raises(DataError, match="line 2.*columns"):
        load_target(f)
    f.write_text("x,y\n1,2\n3,oops\n")
    with pytest.raises(DataError, match="line 3.*not a number"):
        load_target(f)
    f.write_text("x,y\n")
    with pytest.raises(DataError, match="no points"):
        load_target(f)
    with pytest.raises(DataError, match="file not found"):
        load_target(tmp_path / "missing.csv")


class _Boom:
    """Unpickling this would run code; it must never happen."""

    def __reduce__(self):
        return (_explode, ())


def _explode():
    raise RuntimeError("pickle was executed")


def test_pickled_npy_is_refused(tmp_path):
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = _Boom(), [1.0, 2.0]
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        load_target(tmp_path / "evil.npy")


# ---------------------------------------------------------------------------------- drawing
def _segment(width=0.2, label=0, erase=False, x0=-2.0, x1=2.0):
    return Stroke(np.array([[x0, 0.0], [x1, 0.0]]), width=width, label=label, erase=erase)


def test_straight_stroke_samples_along_segment():
    d = Drawing()
    d.add(_segment())
    m = d.to_mixture()
    assert m.n_components == 80 and m.labels is None  # length 4 / (0.2 / 4)
    torch.testing.assert_close(m.widths, torch.full((80,), 0.05, dtype=torch.float64))
    t = d.to_target()
    assert t.kind == "drawing" and t.num_classes == 0
    pts = t.sample(2000, seed=0)
    assert pts[:, 1].abs().max() < 0.3 and pts[:, 0].min() > -2.3 and pts[:, 0].max() < 2.3
    assert pts[:, 0].std() > 1.0  # spread along the whole segment


def test_dot_and_weights():
    d = Drawing()
    d.add(Stroke(np.array([[1.0, 1.0]]), width=0.4))
    d.add(_segment(width=0.4, x0=-1.0, x1=1.0))
    mu, w, h, _ = d.components()
    assert len(mu) == 1 + 20 and w[0] == pytest.approx(0.4)
    assert w[1:].sum() == pytest.approx(2.0 + 0.4)  # length + one brush width of caps


def test_eraser_removes_the_middle():
    d = Drawing()
    d.add(_segment())
    d.add(Stroke(np.array([[0.0, -1.0], [0.0, 1.0]]), width=1.0, erase=True))
    mu = d.to_mixture().means
    assert (mu[:, 0].abs() > 0.5 - 1e-9).all() and len(mu) == 60
    pts = d.to_target().sample(2000, seed=0)
    assert (pts[:, 0].abs() < 0.3).float().mean() < 0.01


def test_erase_then_draw_keeps_later_stroke():
    d = Drawing()
    d.add(_segment(label=0))
    d.add(_segment(width=2.0, erase=True))
    assert d.is_empty
    d.add(_segment(label=2, x0=-1.0, x1=1.0))
    assert not d.is_empty
    m = d.to_mixture()
    assert m.n_components == 40 and m.means[:, 0].abs().max() < 1.0


def test_labels_round_trip_and_classes():
    d = Drawing()
    d.add(_segment(label=0))
    d.add(Stroke([[0.0, 1.0], [0.5, 1.5], [1.0, 1.0]], width=0.3, label=3))
    d.add(Stroke([[0.0, 1.0]], width=0.3, erase=True))
    t = d.to_target()
    assert t.num_classes == 4 and t.class_names[3] == "purple"
    s = t.sample(500, seed=0)
    assert set(s.labels.tolist()) == {0, 3}
    d2 = Drawing.from_dict(json.loads(json.dumps(d.to_dict())))
    assert len(d2.strokes) == 3 and d2.strokes[2].erase and d2.strokes[1].label == 3
    m1, m2 = d.to_mixture(), d2.to_mixture()
    torch.testing.assert_close(m1.means, m2.means)
    torch.testing.assert_close(m1.weights, m2.weights)
    with pytest.raises(DataError, match="malformed"):
        Drawing.from_dict({"strokes": [{"points": [[0, 0]]}]})


def test_empty_drawing_errors():
    d = Drawing()
    assert d.is_empty
    with pytest.raises(DataError, match="the drawing is empty"):
        d.to_target()
    d.add(_segment(erase=True))
    with pytest.raises(DataError, match="draw something or pick a preset"):
        d.to_mixture()


def test_stroke_validation():
    with pytest.raises(DataError, match="width"):
        Stroke([[0.0, 0.0]], width=0.0)
    with pytest.raises(DataError, match="label"):
        Stroke([[0.0, 0.0]], width=0.1, label=4)
    with pytest.raises(DataError, match=r"\(M, 2\)"):
        Stroke(np.zeros((0, 2)), width=0.1)


def test_max_components_respected_and_shape_kept():
    d = Drawing()
    for k in range(10):
        d.add(_segment(width=0.05, x0=-2.5, x1=2.5) if k % 2 else _segment(width=0.05, label=1))
        d.strokes[-1].points[:, 1] = -2.0 + 0.4 * k
    full = d.to_mixture(max_components=10**6)
    assert full.n_components > 1500
    thin = d.to_mixture(max_components=300)
    assert thin.n_components <= 300 and thin.classes == [0, 1]
    a = full.sample(4000, seed=0).numpy()
    b = thin.sample(4000, seed=0).numpy()
    assert np.allclose(a.mean(0), b.mean(0), atol=0.1)
    assert np.allclose(a.std(0), b.std(0), rtol=0.05)
    torch.testing.assert_close(thin.weights.sum(), torch.tensor(1.0, dtype=torch.float64))
