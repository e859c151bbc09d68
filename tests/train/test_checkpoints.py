"""Checkpoints every N steps and resume after a stop: the resumed run continues at the saved step
and ends with the same weights as a run that was never stopped (bitwise on the CPU: the weights,
the optimizer's moments, the EMA and the batch generator are all restored). Also the U-Net sized
by the data and the mixed-precision / compile decisions (CPU-testable logic)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from flowscope.core.images import load_image_dataset
from flowscope.core.images.unet import DeepUNet, UNet, unet_size
from flowscope.core.models import ModelConfig, build_model
from flowscope.train.checkpoints import (
    ResumeError,
    latest_checkpoint,
    list_checkpoints,
    resume_training,
    save_training_checkpoint,
)
from flowscope.train.trainer import TrainConfig, Trainer, amp_dtype, use_compile

ROOT = Path(__file__).resolve().parents[2]


def _trainer(steps: int = 20, **kw) -> Trainer:
    ds = load_image_dataset("digits")
    mc = ModelConfig(arch="unet", image_shape=ds.shape, channels=8, num_classes=ds.num_classes)
    cfg = dict(steps=steps, batch_size=16, lr=2e-3, warmup_steps=0, ema_decay=0.99, seed=5,
               device="cpu", num_threads=1)  # fmt: skip
    cfg.update(kw)
    return Trainer(ds, mc, TrainConfig(**cfg))


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_after_a_stop_equals_an_uninterrupted_run(tmp_path):
    full = _trainer().run()
    assert full.step_count == 20

    first = _trainer()
    first.on_step = lambda tr: tr.step_count % 5 == 0 and save_training_checkpoint(
        tr, tmp_path, keep=2
    )
    first.run(steps=10)  # stopped at 10 of 20
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5, 10]  # the newest 2 kept

    resumed = _trainer()
    assert resume_training(resumed, latest_checkpoint(tmp_path)) == 10
    assert resumed.step_count == 10 and resumed.history.steps[-1] == 10
    resumed.run()
    assert resumed.step_count == 20 and resumed.history.steps == list(range(1, 21))
    assert _same(resumed.net, full.net) and _same(resumed.ema, full.ema)
    assert resumed.history.losses == full.history.losses
    # a fresh run from step 10's weights without the optimizer state would differ: the check
    # above can fail
    other = _trainer()
    other.load_weights(first.net.state_dict(), step=10)
    other.run()
    assert not _same(other.net, full.net)


def test_a_checkpoint_is_a_model_directory_and_refuses_other_settings(tmp_path):
    import flowscope

    tr = _trainer(steps=4).run()
    ck = save_training_checkpoint(tr, tmp_path)
    assert ck.name == "step-00000004"
    model = flowscope.load(ck)  # the desktop and "follow a run" open it as a model
    assert model.config == tr.model_config
    with pytest.raises(ResumeError, match="lr"):
        resume_training(_trainer(lr=1e-3), ck)


@pytest.mark.slow
def test_cli_resume_after_a_kill_gives_the_uninterrupted_weights(tmp_path):
    # bitwise on the CPU; on CUDA the kernels are not deterministic (an H200 run differed)
    args = ["--data", "digits", "--steps", "150", "--channels", "8", "--batch", "16",
            "--threads", "1", "--checkpoint-every", "10", "--quiet", "--device", "cpu"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "flowscope", "train"]
    # the uninterrupted run and the one to kill go side by side (one torch thread each)
    full = subprocess.Popen(cmd + args + ["--out", str(tmp_path / "a")], env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    out = tmp_path / "b"
    p = subprocess.Popen(cmd + args + ["--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 300
    while latest_checkpoint(out) is None and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)  # a hard stop: no chance to save anything more
    p.wait()
    _, err = full.communicate(timeout=600)
    assert full.returncode == 0, err[-2000:]
    killed_at = [s for s, _ in list_checkpoints(out)]
    assert killed_at and killed_at[-1] < 150 and not (out / "model.json").exists()
    r = subprocess.run(cmd + args + ["--out", str(out), "--resume"], env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resuming from {out / 'checkpoints'}" in r.stderr
    assert f"(step {killed_at[-1]})" in r.stderr
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "shape, levels, attention",
    [((1, 8, 8), 2, False), ((1, 28, 28), 3, False), ((3, 32, 32), 3, True)],
)
def test_unet_sized_by_the_data(shape, levels, attention):
    size = unet_size(shape)
    assert (size["levels"], size["attention"]) == (levels, attention)
    mc = ModelConfig(arch="unet", image_shape=shape, num_classes=3, **size)
    net = build_model(mc)
    assert isinstance(net, UNet if levels == 2 else DeepUNet)
    x = torch.randn(2, *shape)
    assert net(x, torch.rand(2), torch.tensor([0, 3])).shape == x.shape
    if attention:
        assert any(type(m).__name__ == "SelfAttention" for m in net.modules())
    # an old checkpoint's config (no levels / attention) is still the original small U-Net
    old = {k: v for k, v in mc.to_dict().items() if k not in ("levels", "attention")}
    assert isinstance(build_model(ModelConfig.from_dict(old)), UNet)


def test_mixed_precision_and_compile_only_where_they_help():
    assert amp_dtype("auto", "cpu", False) is None  # the CPU path is unchanged
    assert amp_dtype("bf16", "cpu", True) is None
    # 'auto' is float32 on CUDA too (images and 2D MLPs): bf16 ran the U-Nets at 0.75-0.87x
    # (bench/gpu.py, H200)
    assert amp_dtype("auto", "cuda", True) is None
    assert amp_dtype("bf16", "cuda", True) == torch.bfloat16
    assert amp_dtype("bf16", "cuda", False) == torch.float16  # no bf16: fp16 + scaler
    assert amp_dtype("fp16", "cuda", True) == torch.float16
    assert amp_dtype("off", "cuda", True) is None
    # compiled only when asked: no faster on the H200, after seconds to minutes of compiling
    assert not use_compile(None) and use_compile(True) and not use_compile(False)
    tr = _trainer(steps=1)
    assert tr.amp_dtype is None and not tr.compiled and tr._scaler is None
