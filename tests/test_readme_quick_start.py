"""The README's command-line quick start runs line by line, in order, and the 2D defaults are one
set shared by the library, the CLI and the app."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np

from flowscope.cli import _build_parser, main
from flowscope.core import defaults as D
from flowscope.core.models import ModelConfig
from flowscope.state import AppState
from flowscope.train.trainer import TrainConfig

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start_lines() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Quick start: the command line", 1)[1].split("```bash", 1)[1]
    block = block.split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("flowscope "):
            lines.append(shlex.split(line)[1:])
    return lines


def test_every_quick_start_line_works_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lines = quick_start_lines()
    assert [a[0] for a in lines] == ["train", "sample", "train", "sample", "export", "diagnose"]
    outputs = [a[a.index("--out") + 1] for a in lines if "--out" in a]
    outputs += [a[a.index("--png") + 1] for a in lines if "--png" in a]
    assert len(outputs) == len(set(outputs)), f"a line overwrites another's file: {outputs}"
    for argv in lines:
        if argv[0] == "train":  # the same command, fewer steps and a smaller net for a test
            argv = argv + ["--steps", "40", "--width", "32", "--batch", "128", "--quiet"]
        if argv[0] == "diagnose":  # the same command on fewer samples (tests/test_cli_diagnose
            argv = argv + ["--n", "300", "--steps", "10"]  # checks the report's values)
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert (tmp_path / "cb.png").stat().st_size > 1000
    assert (tmp_path / "moons.png").stat().st_size > 1000
    meta = json.loads((tmp_path / "runs" / "moons" / "model.json").read_text())
    assert meta["model_config"]["num_classes"] == 2  # labelled data: --label works on it
    # ONNX: one self-contained file
    assert sorted(p.name for p in tmp_path.glob("cb.onnx*")) == ["cb.onnx"]
    assert json.loads((tmp_path / "cb.json").read_text())
    assert (tmp_path / "cb-diagnose.png").exists()  # not written over the samples' cb.png


def test_readme_states_the_default_recipe():
    text = README.read_text(encoding="utf-8")
    recipe = re.search(r"The 2D defaults are the app's too.*?steps on one torch thread", text, re.S)
    assert recipe, "the README names the defaults"
    words = " ".join(recipe.group(0).split())
    assert f"{D.WIDTH_2D} x {D.DEPTH_2D} MLP" in words and f"batches of {D.BATCH_2D}" in words
    assert f"lr {D.LR_2D:.0e}".replace("e-0", "e-") in words
    assert f"{D.WARMUP_2D}-step" in words and f"EMA {D.EMA_2D}" in words
    assert f"{D.STEPS_2D} steps" in words


def test_one_set_of_2d_defaults_for_library_cli_and_app():
    mc, tc, app = ModelConfig(), TrainConfig(), AppState()
    train = _build_parser().parse_args(["train", "--data", "x", "--out", "y"])
    assert mc.width == app.width == train.width == D.WIDTH_2D
    assert mc.depth == app.depth == train.depth == D.DEPTH_2D
    assert tc.batch_size == app.batch_size == D.BATCH_2D and train.batch is None  # -> BATCH_2D
    assert tc.lr == app.lr == D.LR_2D and train.lr is None  # -> LR_2D (images: their own)
    assert tc.warmup_steps == train.warmup == D.WARMUP_2D
    assert tc.ema_decay == D.EMA_2D and tc.steps == D.STEPS_2D
    assert np.isfinite([D.LR_2D, D.EMA_2D]).all()
