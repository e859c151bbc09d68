"""The explorer column: nothing that comes and goes under the explorer resizes its plots (a
resize repainted both plots and the colour bar in one 35-50 ms stretch, and the plots jumped by
a line): the SDE's red warning floats over the explorer's bottom edge, and the straightness line
is there from the start, one line whatever its text."""

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication  # noqa: E402

from flowscope.state import AppState  # noqa: E402
from flowscope.ui.explorer_column import ExplorerColumn  # noqa: E402

WARNING = (
    "Euler-Maruyama is unstable here (40% of particles blew up: h σ<sub>t</sub>²/β<sub>t</sub>² "
    "is too large): try more steps, a smaller σ, or σ_t = σ(1-t)"
)


def _settle() -> None:
    for _ in range(3):  # layout requests are posted events
        QApplication.processEvents()


def test_the_sde_warning_floats_over_the_explorer_and_leaves_it_its_size(qtbot):
    col = ExplorerColumn(AppState())
    qtbot.addWidget(col)
    col.resize(700, 600)
    col.show()
    qtbot.waitExposed(col)
    _settle()
    size = col.explorer.size()
    label = col.sde_warning_label

    col.show_sde_warning(WARNING)
    _settle()
    assert col.explorer.size() == size  # the plots keep their size
    assert label.isVisibleTo(col) and label.text() == WARNING
    box = col.explorer.geometry()
    assert label.geometry().bottom() == box.bottom() and label.width() == box.width()
    assert label.height() >= 2 * label.fontMetrics().lineSpacing()  # wrapped, all of it shown

    col.resize(1000, 650)  # it follows the explorer's edge
    _settle()
    box = col.explorer.geometry()
    assert label.geometry().bottom() == box.bottom() and label.width() == box.width()

    size = col.explorer.size()
    col.show_sde_warning("")
    _settle()
    assert not label.isVisibleTo(col) and col.explorer.size() == size


def test_the_first_straightness_result_leaves_the_explorer_its_size(qtbot, tmp_path, monkeypatch):
    """The straightness line under the explorer is there before the first measurement, and a
    result as long as the window is wide does not ask the column for more room."""
    from types import SimpleNamespace

    from flowscope.ui.main_window import MainWindow

    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    win = MainWindow(AppState(target_source="gaussian", n_particles=200), ask_to_save=False)
    qtbot.addWidget(win)
    win.resize(1366, 768)
    win.show()
    qtbot.waitExposed(win)
    _settle()
    line = win.straightness.label
    assert line.isVisible() and "straightness" in line.text()
    size, width = win.explorer.size(), win.centre.width()
    big = {"transport_cost": 12345.678, "kinetic_energy": 23456.789, "gap": 11111.111}
    res = SimpleNamespace(step=123456, learned=big, exact=dict(big, gap=0.5))
    win.straightness._on_result("straightness", res)
    _settle()
    assert "KE = 23456.79" in line.text()
    assert win.explorer.size() == size and win.centre.width() == width
    win.shutdown()
