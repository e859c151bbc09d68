"""Issue 11 item 14: image-mode grid exports at a readable size, with the view's row and
column labels, from the File menu."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QFileDialog  # noqa: E402

from flowscope.state import ImageState  # noqa: E402
from flowscope.ui.image_view import EXPORT_CELL_PX  # noqa: E402
from flowscope.ui.image_window import ImageWindow  # noqa: E402

READY_MS = 120_000


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")
    state = ImageState(channels=8, batch_size=32, steps=5, ws="0, 1, 3", solver="euler")
    w = ImageWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    yield w
    w.shutdown()


def test_grid_png_from_the_menu_is_readable_and_labelled(
    win, qtbot, tmp_path, monkeypatch, menu_action
):
    win._on_step_clicked()
    win.session.step_once(3)
    win.session.publish()
    qtbot.waitUntil(
        lambda: win.snapshot() is not None and win.snapshot().step >= 4, timeout=READY_MS
    )
    win._request_images(force=True)
    qtbot.waitUntil(lambda: win.result is not None and win.result.step >= 4, timeout=READY_MS)
    out = tmp_path / "grid.png"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "PNG (*.png)"))
    )
    menu_action(win, "Sample grid as PNG…").trigger()
    from PIL import Image

    im = np.asarray(Image.open(out).convert("RGB")).astype(int)
    view = win.grid_view
    r, k = view.shape
    assert (r, k) == (10, 3)
    clone_scale = -(-EXPORT_CELL_PX // 8)  # 8x8 digits -> 8x
    assert im.shape[0] >= r * 8 * clone_scale and im.shape[1] >= k * 8 * clone_scale
    # find the cells: each one is the view's image scaled up by whole pixels (nearest)
    rgb = view.images_rgb()
    big = np.kron(rgb[0, 0], np.ones((clone_scale, clone_scale, 1), int))
    hits = [
        (y, x)
        for y in range(0, im.shape[0] - big.shape[0] + 1)
        for x in range(0, min(im.shape[1] - big.shape[1] + 1, 200))
        if np.array_equal(im[y : y + big.shape[0], x : x + big.shape[1]], big)
    ]
    assert hits, "the first cell is not in the picture at 8x"
    y0, x0 = hits[0]
    # row labels left of the cells, column labels above them: dark text pixels there
    assert x0 > 20 and y0 > 8
    dark = im.sum(-1) < 3 * 120
    ch = big.shape[0]
    for i in range(r):
        band = dark[y0 + i * (ch + 2) : y0 + i * (ch + 2) + ch, : x0 - 4]
        assert band.any(), f"no label left of row {i}"
    assert dark[: y0 - 2, x0 : x0 + 3 * (big.shape[1] + 10)].any()  # 'w = 0' above column 0
    # the trajectory strip too, with its t labels
    strip = tmp_path / "strip.png"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(strip), "PNG (*.png)"))
    )
    menu_action(win, "Trajectory strip as PNG…").trigger()
    sim = np.asarray(Image.open(strip).convert("RGB"))
    assert sim.shape[0] >= 8 * clone_scale and sim.shape[1] >= 6 * 8 * clone_scale
