"""The command line: train -> sample -> export, and one clear line for every bad input."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from flowscope.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "moons"
    rc = main(
        [
            "train",
            "--data",
            "two_moons",
            "--steps",
            "60",
            "--out",
            str(out),
            "--width",
            "32",
            "--depth",
            "2",
            "--batch",
            "128",
            "--quiet",
        ]
    )
    assert rc == 0
    return out


def test_train_writes_a_model_and_reports_quality(model_dir):
    assert (model_dir / "model.json").exists() and (model_dir / "model.safetensors").exists()
    import json
    import math

    q = json.loads((model_dir / "model.json").read_text())["training"]  # the saved quality report
    assert q["steps"] == 60 and q["error"] is None
    assert math.isfinite(q["loss_floor"]) and q["loss_floor"] > 0
    assert q["final_loss"] > q["loss_floor"]  # 60 steps do not beat the irreducible floor
    assert q["excess_loss"] == pytest.approx(q["final_loss"] - q["loss_floor"])
    assert 0 < q["energy_distance"] < 1.0  # samples of a short run land near the moons


def test_train_prints_summary(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--data",
            "gaussian",
            "--steps",
            "20",
            "--out",
            str(tmp_path / "g"),
            "--width",
            "16",
            "--depth",
            "1",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "excess" in out and "energy distance" in out and "loss floor" in out
    assert "support:" in out and "precision: mean log p_data" in out
    import json

    meta = json.loads((tmp_path / "g" / "model.json").read_text())["training"]
    assert 0.0 <= meta["support_share"] <= 1.0 and meta["loss_floor_stderr"] > 0


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".png"])
def test_sample_formats(model_dir, tmp_path, suffix):
    out = tmp_path / f"s{suffix}"
    assert (
        main(
            [
                "sample",
                "--model",
                str(model_dir),
                "--n",
                "300",
                "--out",
                str(out),
                "--steps",
                "10",
                "--label",
                "1",
                "--w",
                "2",
            ]
        )
        == 0
    )
    if suffix == ".npy":
        assert np.load(out).shape == (300, 2)
    elif suffix == ".csv":
        arr = np.loadtxt(out, delimiter=",", skiprows=1)
        assert arr.shape == (300, 2) and np.isfinite(arr).all()
    else:
        from PIL import Image

        img = np.asarray(Image.open(out))
        assert img.shape[2] == 3 and (img < 250).any()  # something was drawn


def test_export_pt2(model_dir, tmp_path):
    out = tmp_path / "v.pt2"
    assert main(["export", "--model", str(model_dir), "--out", str(out)]) == 0
    fn = torch.export.load(str(out)).module()
    assert fn(torch.zeros(3, 2), torch.tensor([0.5]), torch.zeros(3, dtype=torch.long)).shape == (
        3,
        2,
    )


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowscope: error:"), err
    return err[0]


def test_unknown_preset(capsys, tmp_path):
    assert main(["train", "--data", "bananas", "--out", str(tmp_path / "x")]) == 2
    assert "two_moons" in _err(capsys)


def test_missing_file(capsys, tmp_path):
    assert main(["train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert "not found" in _err(capsys)


def test_nan_points(capsys, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x,y\n0,1\nnan,2\n")
    assert main(["train", "--data", str(f), "--out", str(tmp_path / "m")]) == 2
    assert "NaN" in _err(capsys) or "nan" in _err(capsys).lower()


def test_empty_image(capsys, tmp_path):
    from PIL import Image

    f = tmp_path / "white.png"
    Image.new("L", (16, 16), 255).save(f)
    assert main(["train", "--data", str(f), "--out", str(tmp_path / "m")]) == 2
    assert "dark" in _err(capsys)


def test_pickle_model_refused(capsys, tmp_path):
    f = tmp_path / "model.pt"
    f.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    assert main(["sample", "--model", str(f), "--out", str(tmp_path / "s.npy")]) == 2
    assert "never unpickles" in _err(capsys)


def test_bad_output_suffix_and_label(capsys, model_dir, tmp_path):
    assert main(["sample", "--model", str(model_dir), "--out", str(tmp_path / "s.txt")]) == 2
    assert ".npy" in _err(capsys)
    assert (
        main(
            ["sample", "--model", str(model_dir), "--out", str(tmp_path / "s.npy"), "--label", "9"]
        )
        == 2
    )
    assert "out of range" in _err(capsys)


def test_console_entry_point_exit_code(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "flowscope", "train", "--data", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "unknown" in r.stderr.lower()


def test_gui_without_a_display_says_so_instead_of_aborting():
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    r = subprocess.run([sys.executable, "-m", "flowscope"], capture_output=True, text=True,
                       env=env, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert "no display" in r.stderr and "Traceback" not in r.stderr


def test_polynomial_power_below_one_exits_2_with_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "flowscope", "train", "--data", "two_moons", "--steps", "5",
         "--schedule", "poly0.5", "--out", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "n >= 1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()
