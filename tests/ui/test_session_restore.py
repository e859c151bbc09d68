"""A damaged last session never stops the app from starting; scripted runs never touch it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from flowscope.app import restore_last_session  # noqa: E402
from flowscope.state import AppState  # noqa: E402
from flowscope.state.project import load_project, save_project  # noqa: E402
from flowscope.ui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
STROKE = {"points": [[0.0, 0.0], [1.0, 1.0]], "width": 0.4, "label": 0, "erase": False}


def _session(path: Path, settings=None, stroke=None, version=1) -> Path:
    s = AppState(target_source="drawing").to_dict()
    s.update(settings or {})
    meta = {
        "format": "flowscope-project",
        "format_version": version,
        "settings": s,
        "drawing": {"version": 1, "strokes": [{**STROKE, **(stroke or {})}]},
        "history": None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.json", json.dumps(meta))
    return path


BAD = {
    "width 1e-30": dict(stroke={"width": 1e-30}),
    "coordinates 1e300": dict(stroke={"points": [[1e300, 1e300], [0.0, 0.0]]}),
    "t = 'zero'": dict(settings={"t": "zero"}),
    "1e9 particles": dict(settings={"n_particles": 10**9}),
    "infinite format version": dict(version=float("inf")),
}


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWSCOPE_TRAIN_PROCESS", "0")
    w = MainWindow(AppState(target_source="gaussian", n_particles=300), ask_to_save=False)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_damaged_last_session_starts_the_default_preset_and_is_moved_aside(
    win, tmp_path, capsys, name
):
    path = _session(tmp_path / "home" / "last-session.flowscope", **BAD[name])
    data = path.read_bytes()
    assert restore_last_session(win, path) is False
    assert win.state.target_source == "two_moons" and win.target is not None
    assert win.state.n_particles == AppState().n_particles
    assert not path.exists()
    (moved,) = path.parent.glob("last-session.flowscope.broken-*")
    assert moved.read_bytes() == data  # the user's file is kept as it was
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last session could not be restored" in err[0]
    assert "could not be restored" in win.statusBar().currentMessage()


def test_a_good_last_session_is_restored(win, tmp_path):
    path = _session(tmp_path / "home" / "last-session.flowscope", settings={"steps": 33})
    assert restore_last_session(win, path) is True
    assert win.state.steps == 33 and win.state.target_source == "drawing"
    assert path.exists()


def test_a_model_that_does_not_fit_the_target_is_not_adopted(win, tmp_path):
    from flowscope.core.flow_model import FlowModel
    from flowscope.core.models import ModelConfig, build_model

    cfg = ModelConfig(width=32, depth=2, num_classes=3)  # the drawing has one class
    model = FlowModel(build_model(cfg), cfg)
    s = AppState(target_source="drawing").to_dict()
    drawing = {"version": 1, "strokes": [STROKE]}
    p = save_project(tmp_path / "p.flowscope", s, drawing, model)
    assert load_project(p).model is not None
    assert win.open_project(p)
    assert win.session is None
    assert "does not fit" in win.statusBar().currentMessage()


def _run_app(home: Path, *argv: str) -> subprocess.CompletedProcess:
    """The real start-up path (`flowscope gui`: cli.main -> run_app -> leave_process) in a child;
    the window closes itself after showing."""
    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "import flowscope.app as app\n"
        "from flowscope.cli import main\n"
        "def run(qapp, win, args, scripted):\n"
        "    if scripted is not None:\n"
        "        return scripted(qapp, win, args)\n"
        "    win.show()\n"
        "    QTimer.singleShot(300, win.close)\n"
        "    code = qapp.exec()\n"
        "    win.shutdown()\n"
        "    print('SHOWN', win.state.target_source)\n"
        "    return code\n"
        "app._show_and_run = run\n"
        "sys.exit(main(['gui', *sys.argv[1:]]))\n"  # the command line's path, exit included
    )
    env = {**os.environ, "FLOWSCOPE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env["PYTHONFAULTHANDLER"] = "1"  # a crash prints its Python stack into stderr below
    env["XDG_CONFIG_HOME"] = str(home.parent / "config")  # where Qt would write its settings
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=240, env=env
    )


@pytest.mark.slow
def test_the_app_starts_with_a_damaged_last_session_and_keeps_it(tmp_path):
    home = tmp_path / "home"
    path = _session(home / "last-session.flowscope", settings={"n_particles": 10**9})
    r = _run_app(home)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "SHOWN two_moons" in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if "could not be restored" in ln]
    assert len(lines) == 1 and "n_particles" in lines[0]
    assert len(list(home.glob("last-session.flowscope.broken-*"))) == 1
    assert load_project(path).settings["n_particles"] == AppState().n_particles  # a new autosave
    config = tmp_path / "config"
    assert not config.exists() or not list(config.rglob("*flowscope*"))  # FLOWSCOPE_HOME only


@pytest.mark.slow
def test_a_scripted_demo_never_touches_the_last_session(tmp_path):
    home = tmp_path / "home"
    path = _session(home / "last-session.flowscope", settings={"steps": 33})
    before = path.read_bytes()
    out = tmp_path / "shot.png"
    r = _run_app(home, "--demo", "two_moons", "--screenshot", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert out.exists() and path.read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["last-session.flowscope"]


def test_a_full_disk_while_saving_shows_a_message_and_keeps_the_old_project(
    win, tmp_path, monkeypatch
):
    import errno

    p = tmp_path / "p.flowscope"
    win.state.set(steps=33)
    assert win.project.save_to(p)
    win.state.set(steps=44)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert win.project.save_to(p) is False
    monkeypatch.undo()
    assert "No space left" in win.statusBar().currentMessage()
    assert load_project(p).settings["steps"] == 33
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith(".")) == []


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_view_exports_are_written_through_a_temporary_file(win, tmp_path, fmt):
    out = tmp_path / f"v.{fmt}"
    out.write_bytes(b"old")
    assert win.exports.export_view(fmt, str(out))
    assert out.read_bytes() != b"old" and out.stat().st_size > 100
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []
