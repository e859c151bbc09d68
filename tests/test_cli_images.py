"""The command line in image mode (train a U-Net on digits, sample grids and arrays), and a
labelled point file training a conditional 2D model."""

import json

import numpy as np
import pytest
from PIL import Image

from flowscope.cli import main

SMALL = ["--channels", "8", "--batch", "32", "--quiet"]


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_img") / "digits"
    assert main(["train", "--data", "digits", "--steps", "20", "--out", str(out), *SMALL]) == 0
    return out


def _err(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowscope: error:"), err
    return err[0]


def test_train_digits_reports_loss_without_floor(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["train", "--data", "digits", "--steps", "3", "--out", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "final loss" in text and "loss floor: n/a" in text and "1x8x8" in text
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "image" and meta["model_config"]["arch"] == "unet"
    assert meta["training"]["config"]["ema_decay"] == 0.999  # the image default
    assert meta["training"]["config"]["batch_size"] == 32 and meta["data"]["name"] == "digits"


def test_sample_grid_png_and_npy(digits_model, tmp_path):
    grid = tmp_path / "grid.png"
    args = ["sample", "--model", str(digits_model), "--steps", "4"]
    assert main([*args, "--grid", "--out", str(grid)]) == 0
    img = np.asarray(Image.open(grid))
    assert img.shape == (10 * 33 + 1, 4 * 33 + 1, 3)  # rows classes, columns w = 0, 1, 2, 4
    cell = [img[1:33, 1 + 33 * c : 33 + 33 * c] for c in range(4)]
    row2 = img[34:66, 1:33]
    assert np.array_equal(cell[0], row2)  # w = 0 ignores the class: same noise, same image
    pic = tmp_path / "s.png"
    assert main([*args, "--label", "3", "--w", "2", "--n", "6", "--out", str(pic)]) == 0
    assert np.asarray(Image.open(pic)).shape == (2 * 33 + 1, 3 * 33 + 1, 3)
    arr = tmp_path / "s.npy"
    assert main([*args, "--label", "3", "--n", "5", "--out", str(arr)]) == 0
    x = np.load(arr)
    assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 16


def test_image_cli_errors(digits_model, tmp_path, capsys):
    args = ["sample", "--model", str(digits_model), "--steps", "2"]
    assert main([*args, "--out", str(tmp_path / "s.csv")]) == 2
    assert ".png" in _err(capsys)
    assert main([*args, "--grid", "--grid-w", "a,b", "--out", str(tmp_path / "g.png")]) == 2
    assert "grid-w" in _err(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    assert "empty" in _err(capsys)


def test_train_on_a_folder_of_rgb_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for cls in ("red", "blue"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(3):
            px = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
            Image.fromarray(px).save(tmp_path / "data" / cls / f"{i}.png")
    out = tmp_path / "m"
    assert (
        main(["train", "--data", str(tmp_path / "data"), "--steps", "2", "--out", str(out), *SMALL])
        == 0
    )
    assert "3x6x6" in capsys.readouterr().out
    assert (
        main(
            [
                "sample",
                "--model",
                str(out),
                "--grid",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "g.png"),
            ]
        )
        == 0
    )
    assert "rows: classes blue, red" in capsys.readouterr().out


def test_labelled_point_csv_trains_a_conditional_2d_model(tmp_path, capsys):
    f = tmp_path / "labelled.csv"
    rows = ["x,y,label"] + [f"{-2 + 0.01 * i},0,0" for i in range(20)]
    rows += [f"{2 + 0.01 * i},0,5" for i in range(20)]
    f.write_text("\n".join(rows) + "\n")
    out = tmp_path / "m"
    args = ["--steps", "30", "--width", "16", "--depth", "1", "--batch", "64", "--quiet"]
    assert main(["train", "--data", str(f), "--out", str(out), *args]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "2d" and meta["model_config"]["num_classes"] == 2
    assert meta["class_names"] == ["0", "5"]
    assert "loss floor L_min" in capsys.readouterr().out  # the 2D report is unchanged
    pts = tmp_path / "p.npy"
    assert (
        main(["sample", "--model", str(out), "--label", "5", "--n", "50", "--out", str(pts)]) == 0
    )
    assert np.load(pts).shape == (50, 2)
    assert main(["sample", "--model", str(out), "--grid", "--out", str(tmp_path / "g.png")]) == 2
    assert "image models" in _err(capsys)
