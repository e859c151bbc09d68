"""torchrun --nproc-per-node 2 -m flowscope train: DDP on two CPU processes (gloo).

The ranks train on different shards of an image folder, end with identical weights, and rank 0
writes an ordinary model directory that loads and samples."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import flowscope
from flowscope.core.images.dataset import ImageDataset
from flowscope.train.distributed import shard_dataset

REPO = Path(__file__).resolve().parents[2]


def test_shards_are_disjoint_and_cover_the_data():
    images = torch.linspace(-1, 1, 7 * 64).reshape(7, 1, 8, 8)
    ds = ImageDataset(images, torch.tensor([0, 1, 0, 1, 0, 1, 0]), ["a", "b"])
    a, b = shard_dataset(ds, 0, 2), shard_dataset(ds, 1, 2)
    assert (len(a), len(b)) == (4, 3) and a.class_names == b.class_names == ["a", "b"]
    assert torch.equal(torch.cat([a.images, b.images]).sort(0).values, images.sort(0).values)
    with pytest.raises(ValueError, match="cannot be split"):
        shard_dataset(ds, 0, 8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
def test_two_cpu_processes_train_one_model(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("dark", "light"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(6):
            base = 40 if cls == "dark" else 200
            px = np.clip(base + rng.integers(-30, 30, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(px).save(tmp_path / "data" / cls / f"{i}.png")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
        "-m", "flowscope", "train", "--data", str(tmp_path / "data"), "--steps", "6",
        "--channels", "4", "--batch", "8", "--device", "cpu", "--ema", "0",
        "--out", str(tmp_path / "m"),
    ]  # fmt: skip
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=110)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("saved ") == 1  # rank 0 alone reports and saves
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    d = meta["training"]["distributed"]
    assert d["world_size"] == 2 and d["backend"] == "gloo"
    assert d["shard_sizes"] == [6, 6]
    a, b = d["first_batch_sums"]
    assert a != b  # the ranks saw different data
    w0, w1 = d["weight_sums"]
    assert w0 == w1  # DDP kept the weights identical
    model = flowscope.load(tmp_path / "m")
    x = model.sample(4, steps=3, seed=0)
    assert x.shape == (4, 1, 8, 8) and torch.isfinite(x).all()
    assert meta["training"]["steps"] == 6
