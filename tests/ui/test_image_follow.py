"""Image mode follows a training run: File > Follow a training run… (the folder dialog patched),
the window samples the newest checkpoint, loaded off the GUI thread, and reloads when a newer one
is written; Stop following gives training back."""

from __future__ import annotations

import threading

import torch
from PySide6.QtWidgets import QFileDialog

from flowscope.core.images import load_image_dataset
from flowscope.core.models import ModelConfig
from flowscope.state import ImageState
from flowscope.train.checkpoints import save_training_checkpoint
from flowscope.train.trainer import TrainConfig, Trainer
from flowscope.ui.image_window import ImageWindow


def test_follow_a_run_reloads_the_newest_checkpoint(qtbot, monkeypatch, tmp_path, menu_action):
    monkeypatch.setenv("FLOWSCOPE_HOME", "")
    ds = load_image_dataset("digits")
    tr = Trainer(ds, ModelConfig(arch="unet", image_shape=ds.shape, channels=8,
                                 num_classes=ds.num_classes),
                 TrainConfig(steps=None, batch_size=16, lr=2e-3, warmup_steps=0, ema_decay=None,
                             device="cpu", num_threads=1))  # fmt: skip
    tr.run(steps=2)
    save_training_checkpoint(tr, tmp_path)

    win = ImageWindow(ImageState(per_cell=1), ask_to_save=False)
    win.model_files.autosave_enabled = False
    qtbot.addWidget(win)
    win.show()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(tmp_path)))  # fmt: skip
    menu_action(win, "&Follow a training run…").trigger()
    assert not win.training_panel.isEnabled() and not menu_action(win, "Train / pause").isEnabled()
    qtbot.waitUntil(lambda: win.result is not None and win.result.step == 2, timeout=120_000)
    follower = win.follower
    assert follower.load_threads and threading.get_ident() not in follower.load_threads
    snap = win.snapshot()
    weights = tr.net.state_dict()
    assert all(torch.equal(snap.state_dict[k], weights[k]) for k in weights)
    assert "step 2" in win.training_panel.status.text()

    tr.run(steps=3)  # the run goes on and writes step 5
    save_training_checkpoint(tr, tmp_path)
    qtbot.waitUntil(lambda: win.result is not None and win.result.step == 5, timeout=120_000)
    weights = tr.net.state_dict()
    assert all(torch.equal(win.snapshot().state_dict[k], weights[k]) for k in weights)
    assert len(follower.load_threads) == 2  # each checkpoint loaded once

    menu_action(win, "Stop following").trigger()
    assert win.follower is None and win.snapshot() is None and win.training_panel.isEnabled()


def test_flowscope_open_an_image_checkpoint_samples_it(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    ds = load_image_dataset("digits")
    tr = Trainer(ds, ModelConfig(arch="unet", image_shape=ds.shape, channels=8,
                                 num_classes=ds.num_classes),
                 TrainConfig(steps=3, batch_size=16, device="cpu", num_threads=1))  # fmt: skip
    ck = save_training_checkpoint(tr.run(), tmp_path)
    png = tmp_path / "open.png"
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "flowscope", "open", str(ck), "--screenshot",
                        str(png)], env=dict(os.environ, FLOWSCOPE_HOME="", PYTHONPATH=str(root)),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert png.stat().st_size > 10_000
