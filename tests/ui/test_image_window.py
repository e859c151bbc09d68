"""Image mode: the class x w sample grid renders in the GUI and follows the controls."""

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QColor  # noqa: E402

from flowscope.state import ImageState  # noqa: E402
from flowscope.ui.image_window import ImageWindow  # noqa: E402

READY_MS = 120_000  # bounds a hang only: results come from a compute worker on a loaded machine


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")  # a thread: no child start-up in tests
    state = ImageState(channels=8, batch_size=32, steps=5, ws="0, 1, 3", solver="euler")
    w = ImageWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.resize(1300, 850)
    w.show()
    yield w
    w.shutdown()


def _train_a_little(win, qtbot, steps=20):
    win._on_step_clicked()  # creates the session, one step, asks for a grid
    win.session.step_once(steps)
    win.session.publish()
    qtbot.waitUntil(
        lambda: win.snapshot() is not None and win.snapshot().step >= steps + 1,
        timeout=READY_MS,
    )
    win._request_images(force=True)
    qtbot.waitUntil(
        lambda: win.result is not None and win.result.step >= steps + 1, timeout=READY_MS
    )


def test_opens_on_digits_with_real_examples_and_no_samples_yet(win):
    assert win.dataset is not None and win.dataset.num_classes == 10
    assert win.real_view.shape == (2, 5)  # one real image per class, in two rows
    assert win.grid_view.images_rgb() is None and "Train" in win.grid_view._message
    assert win.sampling_panel.strip_label.count() == 11  # unconditional + 10 classes


def test_sample_grid_renders_classes_by_w(win, qtbot):
    _train_a_little(win, qtbot)
    assert win.grid_view.shape == (10, 3)  # rows: classes; columns: w = 0, 1, 3
    assert win.grid_view._rows[3] == "y = 3" and win.grid_view._cols == ["w = 0", "w = 1", "w = 3"]
    assert win.strip_view.shape == (1, 6)
    rgb = win.grid_view.images_rgb()
    assert rgb.std() > 5  # not a blank grid
    # w = 0 ignores the class: every row of that column starts from the same noise -> equal
    assert np.array_equal(rgb[0, 0], rgb[7, 0])
    assert not np.array_equal(rgb[0, 2], rgb[7, 2])
    # and the widget really paints them: a cell's screen pixels match its image
    qtbot.wait(50)
    shot = win.grid_view.grab().toImage()
    rect = win.grid_view.cell_rect(4, 1)
    assert rect.width() >= 16  # 8x8 digits are drawn enlarged
    cell = rgb[4, 1]
    h, w = cell.shape[:2]
    for i, j in [(1, 1), (3, 5), (6, 2), (h - 1, w - 1)]:
        px = QColor(shot.pixel(rect.left() + int((j + 0.5) * rect.width() / w),
                               rect.top() + int((i + 0.5) * rect.height() / h)))  # fmt: skip
        assert abs(px.red() - int(cell[i, j, 0])) <= 2


def test_moving_a_control_regenerates_the_grid(win, qtbot):
    _train_a_little(win, qtbot, steps=5)
    first = win.result
    win.sampling_panel.ws_edit.setText("0.5, 2")
    win.sampling_panel.ws_edit.editingFinished.emit()
    assert win.state.ws == "0.5, 2"
    qtbot.waitUntil(lambda: win.grid_view.shape == (10, 2), timeout=READY_MS)
    assert win.grid_view._cols == ["w = 0.5", "w = 2"]
    same_weights = win.result
    assert same_weights.step == first.step and same_weights.generation > first.generation
    # new noise: the same weights and w, other samples
    win.state.set(seed=win.state.seed + 1)
    qtbot.waitUntil(lambda: win.result.generation > same_weights.generation, timeout=READY_MS)
    assert not np.array_equal(win.result.cells, same_weights.cells)
    # the SDE switch reaches the sampler
    win.sampling_panel.mode.setCurrentIndex(1)
    assert win.state.sde is True
    req = win.image_request(0)
    assert req.sigma == pytest.approx(win.state.sigma) and req.sigma > 0


def test_bad_guidance_text_is_refused_with_a_message(win):
    panel = win.sampling_panel
    panel.ws_edit.setText("1, two")
    panel.ws_edit.editingFinished.emit()
    assert win.state.ws == "0, 1, 3"
    assert not panel.ws_error.isHidden() and "numbers" in panel.ws_error.text()


def test_exports_grid_png_and_npy(win, qtbot, tmp_path):
    assert not win.exports.export_grid(str(tmp_path / "none.png"))  # nothing yet: a message
    assert "Train first" in win.last_error
    _train_a_little(win, qtbot, steps=3)
    from PIL import Image

    assert win.exports.export_grid(str(tmp_path / "grid.png"))
    im = np.asarray(Image.open(tmp_path / "grid.png"))
    assert im.shape[0] >= 10 * 64 and im.shape[1] >= 3 * 64  # 8x8 cells scaled 8x, labelled
    assert win.exports.export_samples(str(tmp_path / "s.npy"))
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (30, 1, 8, 8) and x.min() >= 0.0 and x.max() <= 16.0  # digits' 0..16
    assert win.exports.export_strip(str(tmp_path / "strip.png"))
    assert win.exports.export_model(str(tmp_path / "model"))
    import flowscope

    m = flowscope.load(tmp_path / "model")
    assert m.kind == "image" and m.config.num_classes == 10


def test_bad_dataset_keeps_the_current_one(win, tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip file")
    assert not win.load_dataset(str(bad))
    assert win.dataset.name == "digits" and "Cannot use this dataset" in win.last_error
    assert not win.load_dataset(str(tmp_path / "missing"))
    assert win.dataset.name == "digits"


def test_unlabelled_dataset_gives_one_row(win, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "blobs.npz", images=rng.integers(0, 255, (40, 6, 6), dtype=np.uint8))
    assert win.load_dataset(str(tmp_path / "blobs.npz"))
    assert win.dataset.num_classes == 0
    _train_a_little(win, qtbot, steps=3)
    rows, cols = win.grid_view.shape
    assert rows == 1 and cols == 3 and win.grid_view._cols == ["unconditional samples"]


def test_main_window_opens_image_mode(qtbot, tmp_path, monkeypatch):
    from flowscope.state import AppState
    from flowscope.ui.main_window import MainWindow

    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    main = MainWindow(AppState(target_source="gaussian", n_particles=200), ask_to_save=False)
    qtbot.addWidget(main)
    try:
        img = main.open_image_mode()
        qtbot.addWidget(img)
        assert img.isVisible() and img.dataset.name == "digits"
        assert main.open_image_mode() is img  # one image window, raised again
        img.shutdown()
    finally:
        main.shutdown()


def test_close_autosaves_and_the_model_can_be_continued(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")
    state = ImageState(channels=8, batch_size=32, steps=5, ws="0, 2", solver="euler")
    first = ImageWindow(state, ask_to_save=False)
    qtbot.addWidget(first)
    first.show()
    _train_a_little(first, qtbot, steps=6)
    shown = first.result.cells
    first.close()  # autosaves the model, stops the trainer
    from flowscope.ui.window_base import last_image_model_path

    saved = last_image_model_path()
    assert (saved / "model.safetensors").exists()
    again = ImageWindow(ImageState(steps=5, ws="0, 2", solver="euler"), ask_to_save=False)
    qtbot.addWidget(again)
    try:
        assert again.model_files.open_model(saved)
        assert again.state.channels == 8 and again.session.step_count == 7
        qtbot.waitUntil(lambda: again.result is not None, timeout=READY_MS)
        np.testing.assert_allclose(again.result.cells, shown, atol=1e-4)  # same weights, seeds
        # a 2D model or garbage is refused with a message
        assert not again.model_files.open_model(tmp_path / "nothing-here")
        assert "No saved model" in again.last_error
    finally:
        again.shutdown()


def test_size_and_colour_controls_reload_the_data(win, qtbot):
    _train_a_little(win, qtbot, steps=2)
    win.size_spin.setValue(12)
    assert win.state.size == 12 and win.dataset.shape == (1, 12, 12)
    assert win.session is None and win.result is None  # a new shape needs new weights
    win.color_combo.setCurrentIndex(2)  # RGB
    assert win.dataset.shape == (3, 12, 12)
    assert win.real_view.images_rgb().shape[2:4] == (12, 12)
    _train_a_little(win, qtbot, steps=2)
    assert win.result.cells.shape[-3:] == (3, 12, 12)


@pytest.mark.slow  # a whole app in a subprocess: ~20 s
def test_cli_image_mode_screenshot_and_bad_data(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "FLOWSCOPE_HOME": ""}
    out = tmp_path / "images.png"
    cmd = [sys.executable, "-m", "flowscope", "--images", "digits", "--train-steps", "5",
           "--screenshot", str(out)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image

    im = np.asarray(Image.open(out).convert("L"))
    assert im.shape[0] > 400 and im.std() > 20  # a real window, not a blank picture
    bad = [sys.executable, "-m", "flowscope", "--images", str(tmp_path / "missing.npz")]
    r = subprocess.run(bad, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "image dataset not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_unet_is_sized_by_the_data(win, tmp_path):
    """8x8 digits keep the small two-level U-Net; 28x28 (MNIST-shaped) data gets three levels
    (28 -> 14 -> 7), as the CLI sizes it (core/images/unet.unet_size)."""
    assert win._make_session().trainer.model_config.levels == 2  # digits, 8x8
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "m.npz", images=rng.integers(0, 255, (40, 28, 28), dtype=np.uint8))
    assert win.load_dataset(str(tmp_path / "m.npz"))
    assert win._make_session().trainer.model_config.levels == 3
