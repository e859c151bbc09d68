"""File > Open model in the 2D window (ONNX files and flowscope model folders) and `flowscope open
MODEL`: the model is shown as a fixed field (no training), and an ONNX export re-opened there
gives the model's own field."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

pytest.importorskip("onnxruntime", reason="ONNX is an optional extra")
pytest.importorskip("onnxscript", reason="ONNX is an optional extra")

from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.export import export_velocity  # noqa: E402
from flowscope.core.models import ModelConfig  # noqa: E402
from flowscope.core.onnx_field import OnnxField  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.train.trainer import TrainConfig, Trainer  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MENU_TEXT = "Open &model (ONNX, model folder)…"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tr = Trainer(
        load_target("two_moons"), ModelConfig(width=32, depth=2),
        TrainConfig(steps=60, batch_size=128, device="cpu", normalize="standardize", seed=3),
    )  # fmt: skip
    tr.run()
    model = tr.model()
    d = tmp_path_factory.mktemp("open_model")
    model.save(d / "moons")
    return model, export_velocity(model, d / "moons.onnx"), d / "moons"


def _open_through_menu(win, monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))  # fmt: skip
    actions = [a for a in win.findChildren(QAction) if a.text() == MENU_TEXT]
    assert len(actions) == 1
    actions[0].trigger()


def _window(qtbot, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    win = MainWindow(AppState(), ask_to_save=False)
    qtbot.addWidget(win)
    win.show()
    return win


def _learned_field_at(win, qtbot, t: float):
    win.state.set(t=t, playing=False)
    qtbot.waitUntil(
        lambda: win.field is not None and abs(win.field.t - t) < 1e-9
        and win.view.snapshot() is not None,
        timeout=120_000,
    )  # fmt: skip
    return win.field


@pytest.mark.parametrize("kind", ["onnx", "folder"])
def test_open_model_shows_the_models_field(qtbot, monkeypatch, exported, kind):
    model, onnx_path, folder = exported
    win = _window(qtbot, monkeypatch)
    path = onnx_path if kind == "onnx" else folder / "model.json"
    _open_through_menu(win, monkeypatch, path)
    snap = win.view.snapshot()
    assert snap is not None, getattr(win, "last_error", "")
    assert isinstance(snap.field, OnnxField) == (kind == "onnx")
    assert not win.training_panel.isEnabled()
    assert "showing an external field" in win.training_panel.status.text()
    if kind == "folder":  # the folder keeps its target: the exact side is the model's target
        assert win.target.exact.n_components == model.target.n_components
    # the arrows the window draws are the model's velocity, to ONNX's float tolerance
    for t in (0.25, 0.8):
        fr = _learned_field_at(win, qtbot, t)
        u = model.velocity(torch.from_numpy(fr.origins), t).numpy()
        np.testing.assert_allclose(fr.ode_field, u, atol=1e-4)
    # the particles are the model's ODE from the window's seed
    s = win.state
    qtbot.waitUntil(lambda: win.traj is not None and win.traj.source == "learned"
                    and win.traj.ode.shape[1] == s.n_particles, timeout=120_000)  # fmt: skip
    x0 = torch.randn((s.n_particles, 2), generator=torch.Generator().manual_seed(int(s.seed)))
    from flowscope.core.samplers import sample_ode

    ref = sample_ode(model, x0, s.steps, s.solver).x.numpy()
    np.testing.assert_allclose(win.traj.ode[-1], ref, atol=1e-3)
    # New project goes back to training
    win.project.new_project()
    assert win.view.snapshot() is None and win.training_panel.isEnabled()


def test_a_broken_file_is_a_message_not_a_traceback(qtbot, monkeypatch, tmp_path):
    win = _window(qtbot, monkeypatch)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx graph at all")
    _open_through_menu(win, monkeypatch, bad)
    assert win.view.snapshot() is None and win.training_panel.isEnabled()
    assert "not a readable ONNX model" in win.last_error


def test_flowscope_open_cli_starts_the_window_on_the_model(exported, tmp_path):
    _, onnx_path, _ = exported
    png = tmp_path / "open.png"
    env = dict(os.environ, FLOWSCOPE_HOME="", PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-m", "flowscope", "open", str(onnx_path), "--t", "0.5",
         "--screenshot", str(png)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert png.stat().st_size > 10_000
    r = subprocess.run([sys.executable, "-m", "flowscope", "open", str(tmp_path / "nope.onnx")],
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 2 and "file not found" in r.stderr and "Traceback" not in r.stderr
