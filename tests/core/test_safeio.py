"""Model directories and the shared safe-I/O helpers: checks before allocation, atomic saves."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch

from flowscope.core import safeio
from flowscope.core.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from flowscope.core.flow_model import FlowModel, load
from flowscope.core.models import ModelConfig, build_model


def _model(width=16, depth=2) -> FlowModel:
    cfg = ModelConfig(width=width, depth=depth)
    return FlowModel(build_model(cfg), cfg)


def _edit_json(d, **config):
    meta = json.loads((d / "model.json").read_text())
    meta["model_config"].update(config)
    (d / "model.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("change", [{"width": 25000}, {"depth": 10**6}, {"dim": 10**7}])
def test_a_config_that_does_not_fit_the_weights_is_refused_before_building(
    tmp_path, monkeypatch, change
):
    d = _model().save(tmp_path / "m")
    _edit_json(d, **change)

    def no_build(config):
        raise AssertionError("a network was built before the config was checked")

    monkeypatch.setattr("flowscope.core.flow_model.build_model", no_build)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match="do not match model.json"):
        load(d)
    assert time.perf_counter() - t0 < 5.0


def test_model_json_that_is_a_device_or_a_fifo_is_refused(tmp_path):
    d = _model().save(tmp_path / "m")
    (d / "model.json").unlink()
    (d / "model.json").symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        load(d)
    (d / "model.json").unlink()
    os.mkfifo(d / "model.json")
    with pytest.raises(CheckpointError, match="not a regular file"):
        load(d)


def test_nan_weights_or_a_nan_scale_are_refused(tmp_path):
    m = _model()
    with torch.no_grad():
        next(m.net.parameters())[0, 0] = float("nan")
    d = m.save(tmp_path / "nan")
    with pytest.raises(CheckpointError, match="NaN"):
        load(d)
    d = _model().save(tmp_path / "scale")
    meta = json.loads((d / "model.json").read_text())
    meta["normalization"]["scale"] = float("nan")
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="NaN"):
        load(d)


def test_a_full_disk_during_a_save_keeps_the_previous_model(tmp_path, monkeypatch):
    d = _model().save(tmp_path / "m")
    before = (d / "model.safetensors").read_bytes()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        _model(width=32).save(d)
    monkeypatch.undo()
    assert (d / "model.safetensors").read_bytes() == before
    assert load(d).config.width == 16
    assert sorted(f.name for f in d.iterdir()) == ["model.json", "model.safetensors"]


def test_stale_temp_files_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    d = _model().save(tmp_path / "m")
    stale = safeio.temp_path(d / "model.safetensors")
    stale.write_bytes(b"x" * 1000)
    _model().save(d)
    assert not stale.exists()


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    p = tmp_path / "a.npy"
    safeio.atomic_write(p, b"old")

    def writer(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        safeio.atomic_write(p, writer)
    assert p.read_bytes() == b"old" and [f.name for f in tmp_path.iterdir()] == ["a.npy"]


def test_check_writable_target_refuses_dev_null_and_read_only_folders(tmp_path):
    with pytest.raises(OSError, match="not a regular file"):
        safeio.check_writable_target("/dev/null")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        # root ignores folder permissions (CI runs as root): then a folder of a read-only
        # file system that exists on every Linux machine stands in
        candidates = [ro, Path("/proc/sys/kernel"), Path("/proc/self")]
        folder = next(c for c in candidates if c.is_dir() and not os.access(c, os.W_OK))
        with pytest.raises(OSError, match="not writable"):
            safeio.check_writable_target(folder / "x.onnx")
    finally:
        ro.chmod(0o700)


def test_killing_a_saving_process_always_leaves_a_loadable_model(tmp_path):
    """20 SIGKILLs at random moments of a loop of saves (two alternating weight sets): the
    directory always loads, with one of the two weight sets, consistently with model.json."""
    d = tmp_path / "m"
    sets = []
    for k in range(2):
        torch.manual_seed(k)
        w = {"a": torch.randn(300, 300), "b": torch.full((7,), float(k))}
        sets.append(w)
    save_checkpoint(d, sets[0], {"which": 0})
    rng = random.Random(1)
    for _ in range(20):
        pid = os.fork()
        if pid == 0:  # child: save forever, alternating
            try:
                k = 1
                while True:
                    save_checkpoint(d, sets[k], {"which": k})
                    k = 1 - k
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        state, meta = read_checkpoint(d)
        k = meta["which"]
        assert torch.equal(state["b"], sets[k]["b"]) and torch.equal(state["a"], sets[k]["a"])
    save_checkpoint(d, sets[0], {"which": 0})  # the next save cleans what the kills left
    assert sorted(f.name for f in d.iterdir()) == ["model.json", "model.safetensors"]


def test_check_writable_target_refuses_a_path_under_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError, match="cannot write"):
        safeio.check_writable_target(tmp_path / "f" / "x.onnx")


def test_read_regular_file_refuses_more_than_the_cap_before_reading(tmp_path):
    p = tmp_path / "big.json"
    p.write_bytes(b"x" * 2000)
    with pytest.raises(safeio.SafeIOError, match="MB"):
        safeio.read_regular_file(p, 1000)
    assert safeio.read_regular_file(p, 2000) == b"x" * 2000
