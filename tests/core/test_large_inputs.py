"""Tiny files that would take huge memory are refused (or subsampled) from their headers."""

from __future__ import annotations

import gzip
import struct
import warnings
import zipfile

import numpy as np
import pytest
from PIL import Image

from flowscope.core.data import DataError, load_target
from flowscope.core.images import load_image_dataset
from flowscope.core.images.dataset import ImageDataError


def test_pillows_decompression_bomb_limit_stays_on_and_is_one_error(tmp_path, monkeypatch):
    import flowscope.core.images.folder  # noqa: F401  (importing flowscope must not lift it)

    assert Image.MAX_IMAGE_PIXELS is not None
    p = tmp_path / "big.png"
    Image.new("L", (200, 200), 128).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)  # 40k pixels: a warning-level bomb
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="too large"):
            load_target(str(p))


def test_a_huge_point_file_is_subsampled_with_a_note(tmp_path):
    import flowscope.core.data.points as points

    pts = np.random.default_rng(0).normal(size=(points.MAX_POINTS * 3, 2))
    p = tmp_path / "many.npy"
    np.save(p, pts)
    t = load_target(str(p))
    assert t.exact.means.shape[0] == points.MAX_POINTS
    assert len(t.notes) == 1 and "subsample" in t.notes[0]


def test_a_point_array_whose_header_is_huge_is_refused_without_loading(tmp_path, monkeypatch):
    import flowscope.core.data.points as points

    monkeypatch.setattr(points, "MAX_NPY_BYTES", 1000)
    p = tmp_path / "p.npy"
    np.save(p, np.zeros((200, 2)))
    with pytest.raises(DataError, match="GB of points"):
        load_target(str(p))


def _idx(path, dims, data: bytes, gz=False):
    raw = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    raw += data
    with (gzip.open if gz else open)(path, "wb") as fh:
        fh.write(raw)
    return path


def test_an_idx_of_two_1x70000_images_is_refused_not_trained(tmp_path):
    p = _idx(tmp_path / "train-images-idx3-ubyte", (2, 1, 70000), bytes(140000))
    with pytest.raises(ImageDataError, match="too large"):
        load_image_dataset(str(p))


def test_a_small_gz_that_expands_beyond_the_cap_is_refused(tmp_path, monkeypatch):
    import flowscope.core.images.files as files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1 << 20)
    p = _idx(tmp_path / "train-images-idx3-ubyte.gz", (50, 200, 200), bytes(2_000_000), gz=True)
    assert p.stat().st_size < 100_000
    with pytest.raises(ImageDataError, match="MB"):
        load_image_dataset(str(p))


def test_an_npz_whose_array_header_is_huge_is_refused_before_decompressing(tmp_path):
    """A 1 MB npz can promise 10 GB: the .npy header inside is checked first."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (400_000, 28, 28)}
    )
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images.npy", buf.getvalue() + bytes(1000))
    with pytest.raises(ImageDataError, match="bytes of data"):
        load_image_dataset(str(p))


def test_an_image_dataset_beyond_the_memory_cap_is_subsampled_with_a_note(tmp_path, monkeypatch):
    import flowscope.core.images.arrays as arrays

    monkeypatch.setattr(arrays, "MAX_DATASET_VALUES", 64 * 100)
    x = np.random.default_rng(0).integers(0, 255, size=(500, 8, 8), dtype=np.uint8)
    y = np.arange(500) % 10
    p = tmp_path / "d.npz"
    np.savez(p, images=x, labels=y)
    ds = load_image_dataset(str(p))
    assert len(ds) == 100 and ds.labels.shape == (100,)
    assert any("using 100" in n for n in ds.notes)


def test_the_conditional_loss_floor_visits_a_bounded_number_of_classes(monkeypatch):
    import flowscope.core.metrics as metrics
    from flowscope.core.exact import ExactMarginal

    calls = []

    def fake(exact, objective="velocity", n=20000, seed=0, y=None, chunk_size=8192,
             weighting="beta2"):  # fmt: skip
        calls.append((n, y))
        return 1.0

    monkeypatch.setattr(metrics, "loss_floor", fake)
    pts = np.random.default_rng(0).normal(size=(5000, 2))
    ex = ExactMarginal(pts, widths=0.0, labels=np.arange(5000) % 1000)
    val = metrics.conditional_loss_floor(ex, "velocity", 0.1, n=6000)
    assert val == pytest.approx(1.0)  # eta * 1 + (1 - eta) * (a weighted mean of ones)
    assert len(calls) <= metrics.MAX_FLOOR_CLASSES + 1
    assert sum(n for n, _ in calls) <= 6000 + metrics.MAX_FLOOR_CLASSES * 1000


def test_the_windows_floor_estimate_visits_a_bounded_number_of_classes(monkeypatch):
    """The GUI's estimate (with its standard error) bounds the per-class work the same way."""
    import torch

    import flowscope.core.metrics as metrics
    from flowscope.core.exact import ExactMarginal

    calls = []

    def fake(exact, objective, n, seed, y, chunk_size, weighting="beta2"):
        calls.append((n, y))
        return None, torch.ones(n, dtype=torch.float64)

    monkeypatch.setattr(metrics, "_floor_samples", fake)
    pts = np.random.default_rng(0).normal(size=(5000, 2))
    ex = ExactMarginal(pts, widths=0.0, labels=np.arange(5000) % 1000)
    est = metrics.loss_floor_estimate(ex, "velocity", 0.1, n=6000)
    assert est.value == pytest.approx(1.0) and est.stderr == pytest.approx(0.0)
    assert len(calls) <= metrics.MAX_FLOOR_CLASSES + 1
    assert sum(n for n, _ in calls) <= 6000 + metrics.MAX_FLOOR_CLASSES * 1000


def test_a_fifo_named_like_a_dataset_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    with pytest.raises(ImageDataError, match="not a regular file"):
        load_image_dataset(str(fifo))
