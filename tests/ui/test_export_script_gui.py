"""File > Export > Run as Python script…: reached through its QAction, the script it writes
carries the drawing and the sampler settings and runs to the end in a fresh process."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QFileDialog  # noqa: E402

from flowscope.core.data import Drawing, Stroke  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    state = AppState(
        target_source="gaussian", n_particles=300, steps=20, width=32, depth=2, batch_size=128
    )
    w = MainWindow(state, ask_to_save=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_run_as_python_script_exports_the_drawing_and_runs(win, tmp_path, monkeypatch, menu_action):
    drawing = Drawing()
    drawing.add(Stroke(np.array([[-1.0, -1.0], [1.0, 1.0]]), 0.4, label=0))
    drawing.add(Stroke(np.array([[-1.0, 1.0], [1.0, -1.0]]), 0.4, label=1))
    win.canvas.set_drawing(drawing)
    assert win.set_target_source("drawing")
    win.state.set(steps=3, solver="euler", sigma=0.5, w=2.0, label=1, n_particles=50, seed=7)
    out = tmp_path / "run.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))

    menu_action(win, "Run as Python script…").trigger()

    text = out.read_text()
    tree = ast.parse(text)
    value = next(
        n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DRAWING"
    )
    strokes = Drawing.from_dict(ast.literal_eval(value)).strokes
    assert [s.to_dict() for s in strokes] == [s.to_dict() for s in drawing.strokes]
    for setting in ("steps=3", "solver='euler'", "sigma=0.5", "w=2.0", "y=1", "seed=7", "n=50"):
        assert setting in text, setting
    assert "num_classes=4" in text and "width=32" in text  # the window's model for a drawing

    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    r = subprocess.run(
        [sys.executable, str(out), "--train-steps", "5", "--npy", "s.npy", "--out", "fig.png"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (50, 2) and np.isfinite(samples).all()
