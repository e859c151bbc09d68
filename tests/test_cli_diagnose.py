"""`flowscope diagnose`: a valid report from a saved model (as a subprocess), its target kept in
the model directory, memorization for point sets, and one line with exit status 2 otherwise."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from flowscope.cli import main
from flowscope.core.target_file import TARGET_FILE

SMALL = ["--width", "32", "--depth", "2", "--batch", "128", "--steps", "40", "--quiet"]
FAST = ["--n", "300", "--bins", "5", "--steps", "10"]


@pytest.fixture(scope="module")
def points_model(tmp_path_factory):
    """A model trained on 12 points (a point set: zero-width components)."""
    root = tmp_path_factory.mktemp("diag")
    pts = np.random.default_rng(0).uniform(-2, 2, size=(12, 2))
    csv = root / "pts.csv"
    np.savetxt(csv, pts, delimiter=",", header="x,y", comments="")
    out = root / "pts_model"
    assert main(["train", "--data", str(csv), "--out", str(out), *SMALL]) == 0
    return out, csv


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowscope: error:"), err
    return err[0]


def test_diagnose_subprocess_writes_report_and_png(points_model, tmp_path):
    model, _ = points_model
    assert (model / TARGET_FILE).is_file()
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    cmd = [sys.executable, "-m", "flowscope", "diagnose", "--model", str(model)]
    cmd += ["--out", str(out), "--png", str(png), *FAST]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    e = rep["error_by_t"]
    assert len(e["t"]) == len(e["field_mse"]) == len(e["excess_loss"]) == 5
    assert all(v > 0 for v in e["field_mse"]) and e["objective"] == "velocity"
    d = rep["decomposition"]
    assert set(d) >= {"total", "network", "solver", "floor"} and d["steps"] == 10
    assert d["total"] >= 0 and d["floor"] >= 0
    n = rep["nll"]
    assert n["t"] == pytest.approx(0.99) and n["model"] > n["exact"] - 4 * n["model_se"]
    m = rep["memorization"]
    assert 0 <= m["share"] <= 1 and m["n_train"] == 12 and m["baseline"] == "leave-one-out"
    assert rep["target"]["point_set"] is True and rep["target"]["components"] == 12
    with Image.open(png) as img:
        assert img.size == (1200, 760)
        assert len(np.unique(np.asarray(img.convert("L")))) > 10  # something was drawn
    assert "energy distance" in r.stdout and "memorization" in r.stdout


def test_diagnose_without_a_kept_target_needs_data(points_model, tmp_path, capsys):
    model, csv = points_model
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("model.json", "model.safetensors"):
        (bare / f).write_bytes((model / f).read_bytes())
    out = tmp_path / "r.json"
    assert main(["diagnose", "--model", str(bare), "--out", str(out), *FAST]) == 2
    assert "--data" in _one_line(capsys)
    args = ["diagnose", "--model", str(bare), "--data", str(csv), "--out", str(out), *FAST]
    assert main(args) == 0
    rep = json.loads(out.read_text())
    assert rep["target"]["source"] == str(csv) and "memorization" in rep


def test_diagnose_a_preset_model_has_no_memorization(tmp_path):
    model = tmp_path / "g"
    assert main(["train", "--data", "gaussian", "--out", str(model), *SMALL]) == 0
    out = tmp_path / "g.json"
    assert main(["diagnose", "--model", str(model), "--out", str(out), *FAST]) == 0
    rep = json.loads(out.read_text())
    assert "memorization" not in rep and rep["nll"]["t"] == 1.0
    assert rep["target"]["point_set"] is False


def test_image_model_exits_2_with_one_line(tmp_path, capsys):
    from flowscope.core.flow_model import FlowModel, Normalization
    from flowscope.core.models import ModelConfig, build_model

    mc = ModelConfig(arch="unet", image_shape=(1, 8, 8), channels=8)
    FlowModel(build_model(mc), mc, normalization=Normalization((0.5,), 0.5)).save(tmp_path / "img")
    rc = main(["diagnose", "--model", str(tmp_path / "img"), "--out", str(tmp_path / "r.json")])
    assert rc == 2
    assert "no exact oracle" in _one_line(capsys)
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--out", "r.txt"], ".json"),
        (["--out", "r.json", "--png", "r.jpg"], ".png"),
        (["--out", "r.json", "--steps", "0"], "--steps"),
        (["--out", "r.json", "--sigma", "nan"], "--sigma"),
        (["--out", "r.json", "--n", "1000000000"], "--n"),
        (["--out", "/dev/null/r.json"], "r.json"),
    ],
)
def test_bad_arguments_exit_2(points_model, tmp_path, capsys, extra, needle):
    model, _ = points_model
    assert main(["diagnose", "--model", str(model), *extra]) == 2
    assert needle in _one_line(capsys)


def test_missing_model_exits_2(tmp_path, capsys):
    assert main(["diagnose", "--model", str(tmp_path / "nope"), "--out", "r.json"]) == 2
    assert "not found" in _one_line(capsys)
