"""`flowscope train --coupling/--source` and `flowscope reflow`."""

import json

import pytest
import torch

from flowscope.cli import main
from flowscope.core.flow_model import load


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SMALL = ["--width", "48", "--depth", "2", "--batch", "256", "--quiet"]


def _train(out, *extra, data="eight_gaussians", steps="400"):
    return main(["train", "--data", data, "--steps", steps, "--out", str(out), *SMALL, *extra])


def test_reflow_straightens_a_trained_model(tmp_path, capsys):
    base, flat = tmp_path / "base", tmp_path / "flat"
    assert _train(base) == 0
    capsys.readouterr()
    rc = main(
        [
            "reflow",
            "--model",
            str(base),
            "--out",
            str(flat),
            "--steps",
            "400",
            "--pairs",
            "3000",
            "--ode-steps",
            "10",
            "--batch",
            "256",
            "--quiet",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "kinetic - transport gap" in out
    meta = json.loads((flat / "model.json").read_text())
    r = meta["training"]["reflow"]
    assert r["after"]["gap"] < r["before"]["gap"] / 3
    assert r["pairs"] == 3000 and meta["training"]["coupling"] == "reflow"
    e_before = r["energy_distance_by_euler_steps_before"]
    e_after = r["energy_distance_by_euler_steps_after"]
    assert e_after["1"] < e_before["1"]
    assert load(flat).kind == "2d"


def test_train_with_ot_coupling_records_its_cost(tmp_path, capsys):
    out = tmp_path / "ot"
    assert _train(out, "--coupling", "ot", steps="50") == 0
    assert "no closed-form loss floor" in capsys.readouterr().out
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["coupling"] == "ot"
    assert meta["training"]["coupling_ms_per_step"] > 0
    assert meta["training"]["loss_floor"] is None


def test_train_with_a_source_keeps_it_and_refuses_the_sde(tmp_path, capsys):
    out = tmp_path / "bridge"
    assert _train(out, "--source", "eight_gaussians", data="two_moons", steps="50") == 0
    assert (out / "source.safetensors").is_file()
    model = load(out)
    assert model.source is not None and model.source.n_components == 8
    capsys.readouterr()
    rc = main(["sample", "--model", str(out), "--out", str(tmp_path / "s.npy"), "--sigma", "0.5"])
    err = capsys.readouterr().err
    assert rc == 2 and "N(0, I) source" in err and len(err.strip().splitlines()) == 1
    assert (
        main(["sample", "--model", str(out), "--out", str(tmp_path / "s.npy"), "--n", "100"]) == 0
    )
    diag = ["diagnose", "--model", str(out), "--out", str(tmp_path / "r.json")]
    assert main(diag) == 2


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--source", "no_such_preset"], "unknown preset"),
        (["--coupling", "ot", "--objective", "score"], "velocity only"),
        (["--data", "digits", "--coupling", "ot"], "for 2D data"),
    ],
)
def test_bad_coupling_arguments_exit_2_with_one_line(tmp_path, capsys, args, msg):
    argv = ["train", "--data", "two_moons", "--steps", "5", "--out", str(tmp_path / "m"), *SMALL]
    argv += args  # a second --data replaces the first (argparse keeps the last)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1


def test_reflow_rejects_bad_counts(tmp_path, capsys):
    rc = main(["reflow", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--pairs", "1"])
    assert rc == 2 and "--pairs" in capsys.readouterr().err
