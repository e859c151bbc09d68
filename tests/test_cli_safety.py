"""The command line's outputs: checked before working, written atomically, failures in one line."""

from __future__ import annotations

import errno

import pytest

from flowscope.cli import main
from flowscope.core.flow_model import FlowModel, load
from flowscope.core.models import ModelConfig, build_model


@pytest.fixture
def model_dir(tmp_path):
    cfg = ModelConfig(width=16, depth=1)
    return FlowModel(build_model(cfg), cfg).save(tmp_path / "m")


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("flowscope: error:")
    return err[0]


def test_export_reports_a_failed_write_with_its_path(model_dir, tmp_path, capsys, monkeypatch):
    import torch

    def fail(*a, **k):
        raise RuntimeError("File x.pt2 cannot be opened.")

    monkeypatch.setattr(torch.export, "save", fail)
    out = tmp_path / "ro" / "v.pt2"
    assert main(["export", "--model", str(model_dir), "--out", str(out)]) == 2
    assert f"could not write {out}" in _one_line(capsys)
    assert list((tmp_path / "ro").iterdir()) == []  # no temp file left


def test_export_refuses_a_format_that_contradicts_the_name(model_dir, tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert main(["export", "--model", str(model_dir), "--format", "pt2", "--out", str(out)]) == 2
    assert "ends in .onnx" in _one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("out", ["/dev/null", "FILE"])
def test_train_checks_its_output_before_training(tmp_path, capsys, monkeypatch, out):
    import flowscope.train.trainer as trainer

    if out == "FILE":
        out = str(tmp_path / "a-file")
        (tmp_path / "a-file").write_text("x")

    def no_training(*a, **k):
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(trainer.Trainer, "__init__", no_training)
    assert main(["train", "--data", "gaussian", "--steps", "5", "--out", out, "--quiet"]) == 2
    assert "not a folder" in _one_line(capsys)


@pytest.mark.parametrize(
    "args, word",
    [
        (["train", "--data", "gaussian", "--batch", "0"], "--batch"),
        (["train", "--data", "gaussian", "--lr", "nan"], "--lr"),
        (["sample", "--model", "M", "--w", "nan"], "--w"),
        (["sample", "--model", "M", "--w", "inf"], "--w"),
        (["sample", "--model", "M", "--n", "1000000000"], "--n"),
        (["train", "--data", "gaussian", "--width", "25000"], "--width"),
        (["train", "--data", "gaussian", "--depth", "1000000"], "--depth"),
    ],
)
def test_bad_numbers_exit_2_with_one_line(model_dir, tmp_path, capsys, args, word):
    args = [str(model_dir) if v == "M" else v for v in args]
    out = str(tmp_path / ("o.npy" if args[0] == "sample" else "o"))
    assert main([*args, "--out", out]) == 2
    assert word in _one_line(capsys)


def test_a_full_disk_at_the_end_of_training_keeps_the_weights(tmp_path, capsys, monkeypatch):
    out = tmp_path / "g"
    real = FlowModel.save

    def save(self, directory, extra=None):
        if str(directory) == str(out):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, directory, extra)

    monkeypatch.setattr(FlowModel, "save", save)
    argv = ["train", "--data", "gaussian", "--steps", "5", "--width", "16", "--depth", "1"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    line = _one_line(capsys)
    assert f"could not write the model to {out}" in line and "saved to" in line
    rescued = line.split("saved to ")[1].split(" instead")[0]
    assert load(rescued).config.width == 16


def test_sample_write_failure_names_the_path(model_dir, tmp_path, capsys, monkeypatch):
    import numpy as np

    def fail(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", fail)
    out = tmp_path / "s.npy"
    assert main(["sample", "--model", str(model_dir), "--n", "10", "--out", str(out)]) == 2
    assert f"could not write {out}: No space left" in _one_line(capsys)


def test_samples_holding_nan_are_not_written(model_dir, tmp_path, capsys, monkeypatch):
    import torch

    real = FlowModel.sample

    def diverged(self, *a, **k):
        x = real(self, *a, **k)
        return torch.full_like(x, float("nan"))

    monkeypatch.setattr(FlowModel, "sample", diverged)
    out = tmp_path / "s.npy"
    assert main(["sample", "--model", str(model_dir), "--n", "10", "--out", str(out)]) == 2
    assert "NaN" in _one_line(capsys) and not out.exists()
