"""``flowscope export --format script`` and core.script_export.run_script: the exported script
trains the same model as ``flowscope train`` (same seed, CPU, one thread) and samples the same."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowscope.cli import main
from flowscope.core.data import Drawing, Stroke
from flowscope.core.models import ModelConfig
from flowscope.core.script_export import run_script
from flowscope.train.trainer import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    return env


def _flowscope(*args: str, cwd: Path) -> None:
    cmd = [sys.executable, "-m", "flowscope", *args]
    r = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_script_reproduces_cli_training_and_sampling(tmp_path):
    train = ["--steps", "50", "--width", "32", "--depth", "2", "--batch", "256"]
    _flowscope("train", "--data", "two_moons", *train, "--seed", "3", "--device", "cpu",
               "--out", "m", "--quiet", cwd=tmp_path)  # fmt: skip
    sampling = ["--n", "300", "--steps", "8", "--solver", "rk4", "--seed", "5"]
    m = str(tmp_path / "m")  # sample and export in this process (the CLI's main, as test_cli)
    assert main(["sample", "--model", m, "--out", str(tmp_path / "cli.npy"), *sampling]) == 0
    assert main(["export", "--format", "script", "--model", m, "--out", str(tmp_path / "run.py"),
                 *sampling]) == 0  # fmt: skip
    text = (tmp_path / "run.py").read_text()
    ast.parse(text)  # valid Python
    assert "seed=3" in text and "solver='rk4'" in text and "TARGET = 'two_moons'" in text
    r = subprocess.run(
        [sys.executable, "run.py", "--npy", "script.npy", "--out", "fig.png"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "trained 50 steps" in r.stdout
    cli, script = np.load(tmp_path / "cli.npy"), np.load(tmp_path / "script.npy")
    assert cli.shape == script.shape == (300, 2)
    assert np.abs(cli - script).max() < 1e-6
    # the figure, or samples beside it when matplotlib is missing
    assert (tmp_path / "fig.png").exists() or (tmp_path / "fig.npy").exists()


def _drawing() -> Drawing:
    d = Drawing()
    d.add(Stroke(np.array([[-1.0, 0.0], [0.0, 0.5], [1.0 / 3.0, 1.0]]), 0.3, label=0))
    d.add(Stroke(np.array([[0.5, -1.0], [1.5, -0.75]]), 0.2, label=1))
    return d


def test_drawing_strokes_travel_inside_the_script_exactly():
    d = _drawing()
    mc = ModelConfig(width=16, depth=1, num_classes=4)
    text = run_script("drawing", mc, TrainConfig(steps=None, normalize="none"), drawing=d, w=2.0,
                      y=1)  # fmt: skip
    tree = ast.parse(text)
    assign = next(
        n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DRAWING"
    )
    again = Drawing.from_dict(ast.literal_eval(assign.value))
    assert [s.to_dict() for s in again.strokes] == [s.to_dict() for s in d.strokes]
    # a live (GUI) run had no step count: the script gets one, at the constant lr it trained with
    assert "steps=3000" in text and "lr_schedule='constant'" in text
    assert "'w': 2.0" in text or "w=2.0" in text
    assert "y=1" in text and "snapshot_hz" not in text


def test_run_script_refuses_what_it_cannot_reproduce():
    with pytest.raises(ValueError, match="drawing"):
        run_script("drawing", ModelConfig(), TrainConfig())
    with pytest.raises(ValueError, match="empty"):
        run_script("drawing", ModelConfig(), TrainConfig(), drawing=Drawing())
    img = ModelConfig(arch="unet", image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="2D"):
        run_script("digits", img, TrainConfig())


def test_cli_script_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", "--format", "script", "--model", str(tmp_path / "none"),
                 "--out", str(tmp_path / "r.py")]) == 2  # fmt: skip
    assert "error" in capsys.readouterr().err


def test_cli_script_export_wants_a_py_file_and_a_known_source(tmp_path, capsys):
    from flowscope.core.flow_model import FlowModel
    from flowscope.core.models import build_model

    mc = ModelConfig(width=8, depth=1)
    meta = {"training": {"config": dict(vars(TrainConfig(steps=5)))}, "data": {"source": "drawing"}}
    FlowModel(build_model(mc), mc, metadata=meta).save(tmp_path / "m")
    base = ["export", "--format", "script", "--model", str(tmp_path / "m")]
    assert main([*base, "--out", str(tmp_path / "run.txt")]) == 2
    assert "run.py" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "run.py")]) == 2
    assert "File > Export > Run as Python script" in capsys.readouterr().err
    assert not (tmp_path / "run.py").exists()
