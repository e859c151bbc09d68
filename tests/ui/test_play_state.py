"""Issue 11 item 15: time plays on launch; the play state shows on the button (Play / Pause)
and in both views (a ▶ after t while it plays)."""

import pytest

pytest.importorskip("PySide6")

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402


def test_play_state_is_obvious(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    win = MainWindow(AppState(target_source="gaussian", n_particles=200), ask_to_save=False)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    try:
        assert win.state.playing  # time plays on launch (kept)
        labels = [side.label for side in win.explorer._sides.values()]
        qtbot.waitUntil(lambda: all(lb.text().endswith("▶") for lb in labels), timeout=60_000)
        assert win.play_button.text() == "Pause"
        assert win.play_button.width() >= win.play_button.fontMetrics().horizontalAdvance("Pause")
        win.play_button.click()  # what the user touches
        assert not win.state.playing
        assert win.play_button.text() == "Play"
        assert not any("▶" in lb.text() for lb in labels)
        t = win.state.t
        qtbot.wait(300)  # paused: t stays where it was
        assert win.state.t == t
        # the views say that t once its frame is drawn (the compute side answers: later when
        # the machine is loaded)
        qtbot.waitUntil(lambda: all(f"t = {t:.2f}" in lb.text() for lb in labels), timeout=60_000)
        assert win.state.t == t
        win.play_button.click()
        assert win.state.playing and win.play_button.text() == "Pause"
        qtbot.waitUntil(lambda: win.state.t != t, timeout=60_000)
        assert all(lb.text().endswith("▶") for lb in labels)
    finally:
        win.shutdown()
