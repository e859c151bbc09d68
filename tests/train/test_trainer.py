"""The Trainer: it learns, it is controllable from another thread, and it fails safely."""

import math
import threading
import time

import pytest
import torch

from flowscope.core.data import load_target
from flowscope.core.exact import ExactMarginal
from flowscope.core.metrics import loss_floor
from flowscope.core.models import ModelConfig
from flowscope.train import Snapshot, TrainConfig, Trainer

BLOBS = ExactMarginal(torch.tensor([[-1.5, 0.0], [1.5, 0.5]]), widths=0.3, labels=[0, 1])


def small(**kw):
    base = dict(steps=200, batch_size=128, lr=2e-3, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_short_training_on_two_moons_lowers_the_excess_loss():
    target = load_target("two_moons")
    tr = Trainer(target, ModelConfig(width=64, depth=3), small(steps=600, batch_size=256))
    floor = loss_floor(target.exact, "velocity", n=20000, seed=0)
    assert tr.history.losses == [] and tr.step_count == 0  # nothing trained before run()
    tr.run()
    h = tr.history.losses
    early, late = sum(h[:30]) / 30, sum(h[-100:]) / 100
    assert late - floor < 0.5 * (early - floor), (early, late, floor)
    assert late > floor - 0.1  # the floor is irreducible: a model never gets far below it


def test_same_seed_same_history_and_different_seed_differs():
    a = Trainer(BLOBS, ModelConfig(width=32, depth=2), small(steps=30)).run().history.losses
    b = Trainer(BLOBS, ModelConfig(width=32, depth=2), small(steps=30)).run().history.losses
    c = Trainer(BLOBS, ModelConfig(width=32, depth=2), small(steps=30, seed=1)).run()
    assert a == b
    assert a != c.history.losses


@pytest.mark.parametrize("objective", ["velocity", "score", "noise"])
@pytest.mark.parametrize("schedule", ["condot", "cosine", "vp"])
def test_every_objective_and_schedule_trains_with_finite_loss(objective, schedule):
    tr = Trainer(
        BLOBS,
        ModelConfig(width=32, depth=2, parameterization=objective),
        small(steps=40, schedule=schedule),
    )
    tr.run()
    assert tr.error is None and tr.step_count == 40
    assert all(math.isfinite(v) for v in tr.history.losses)
    x = torch.randn(16, 2)
    m = tr.model()
    for t in (0.0, 0.5, 1.0):
        assert torch.isfinite(m.velocity(x, t)).all() and torch.isfinite(m.score(x, t)).all()


def test_pause_resume_stop_from_another_thread():
    tr = Trainer(BLOBS, ModelConfig(width=32, depth=2), small(steps=None))
    th = threading.Thread(target=tr.run, daemon=True)
    th.start()
    deadline = time.time() + 10
    while tr.step_count < 5 and time.time() < deadline:
        time.sleep(0.01)
    tr.pause()
    time.sleep(0.1)
    frozen = tr.step_count
    time.sleep(0.3)
    assert tr.step_count == frozen and tr.paused
    tr.resume()
    while tr.step_count <= frozen + 5 and time.time() < deadline:
        time.sleep(0.01)
    assert tr.step_count > frozen
    tr.stop()
    th.join(timeout=5)
    assert not th.is_alive()


def test_snapshots_are_rate_limited_immutable_cpu_copies():
    got: list[Snapshot] = []
    tr = Trainer(
        BLOBS,
        ModelConfig(width=32, depth=2),
        small(steps=60, snapshot_hz=1e9),  # room to train on after the 50th step
        on_snapshot=got.append,
    )
    tr.run(steps=50)
    assert len(got) >= 50 and got[-1].step == 50
    at_50 = got[-1]
    x0 = torch.randn(64, 2)
    u_at_50 = tr.model().velocity(x0, 0.5)  # the trainer's model at the last snapshot's step
    first = got[0]
    key = next(iter(first.state_dict))
    before = first.state_dict[key].clone()
    tr.run(steps=1)  # training on does not touch an old snapshot
    assert tr.step_count == 51
    assert torch.equal(first.state_dict[key], before)
    assert all(v.device.type == "cpu" for v in first.state_dict.values())
    slow: list[Snapshot] = []
    Trainer(
        BLOBS,
        ModelConfig(width=32, depth=2),
        small(steps=50, snapshot_hz=1e-3),
        on_snapshot=slow.append,
    ).run()
    assert 1 <= len(slow) <= 2  # the first step and the final forced one
    assert got[-1].step == 51
    m = at_50.to_model()  # a working model: the same field as the trainer's at step 50
    torch.testing.assert_close(m.velocity(x0, 0.5), u_at_50)
    assert (m.velocity(x0, 0.5) - tr.model().velocity(x0, 0.5)).abs().max() > 1e-6  # step 51
    assert torch.isfinite(m.sample(10, seed=0)).all()


def test_nan_loss_stops_and_keeps_last_good_weights():
    tr = Trainer(BLOBS, ModelConfig(width=32, depth=2), small(steps=100, snapshot_hz=1e9))
    tr.step(10)
    good = {k: v.clone() for k, v in tr.net.state_dict().items()}
    with torch.no_grad():
        next(tr.net.parameters()).fill_(float("inf"))  # something blew up
    tr.run()
    assert tr.error is not None and "loss became" in tr.error and "step 10" in tr.error
    assert tr.step_count == 10
    for k, v in tr.net.state_dict().items():
        torch.testing.assert_close(v, good[k])


def test_set_target_swaps_data_without_restarting():
    tr = Trainer(BLOBS, ModelConfig(width=32, depth=2), small(steps=None))
    tr.step(5)
    far = ExactMarginal(torch.tensor([[10.0, 10.0]]), widths=0.1)
    tr.set_target(far)
    tr.step(1)
    assert tr.target_version == 1 and tr.step_count == 6
    z, _ = tr._sampler(100)
    assert float(z.mean()) > 9.0
    with pytest.raises(ValueError, match="3-D"):
        tr.set_target(ExactMarginal(torch.zeros(1, 3)))


def test_label_dropout_rate_and_null_label():
    mc = ModelConfig(width=16, depth=1, num_classes=2)
    tr = Trainer(BLOBS, mc, small(label_dropout=0.3))
    labels = torch.zeros(20000, dtype=torch.long)
    out = tr._labels(labels, labels.shape[0])
    assert float((out == mc.null_label).double().mean()) == pytest.approx(0.3, abs=0.015)
    assert set(out.unique().tolist()) == {0, mc.null_label}
    tr0 = Trainer(BLOBS, mc, small(label_dropout=0.0))
    assert (tr0._labels(labels, 100) == 0).all()


def test_lr_schedule_and_device_fallback_message():
    cold = dict(lr=1e-3, warmup_steps=0)
    tr = Trainer(BLOBS, ModelConfig(width=16, depth=1), small(steps=100, **cold))
    assert tr._lr_at(0) == pytest.approx(1e-3) and tr._lr_at(50) == pytest.approx(5e-4)
    assert tr._lr_at(100) == pytest.approx(0.0, abs=1e-12)
    live = Trainer(BLOBS, ModelConfig(width=16, depth=1), small(steps=None, **cold))
    assert live._lr_at(10_000) == pytest.approx(1e-3)
    # warm-up: linear from lr / warmup to lr, then the cosine (or constant while live)
    warm = Trainer(
        BLOBS, ModelConfig(width=16, depth=1), small(steps=1000, lr=1e-3, warmup_steps=10)
    )
    assert warm._lr_at(0) == pytest.approx(1e-4, rel=1e-4)
    assert warm._lr_at(4) == pytest.approx(5e-4, rel=1e-4)
    cos = 0.5 * (1 + math.cos(math.pi * 9 / 1000))
    assert warm._lr_at(9) == pytest.approx(1e-3 * cos) and warm._lr_at(500) == pytest.approx(5e-4)
    live = Trainer(
        BLOBS, ModelConfig(width=16, depth=1), small(steps=None, lr=1e-3, warmup_steps=10)
    )
    assert live._lr_at(1) == pytest.approx(2e-4) and live._lr_at(10_000) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="warmup_steps"):
        small(warmup_steps=-1)
    if not torch.cuda.is_available():
        cuda = Trainer(BLOBS, ModelConfig(width=16, depth=1), small(device="cuda"))
        assert cuda.device.type == "cpu" and "not available" in cuda.device_message


def test_normalization_auto_standardizes_far_data_and_samples_come_back():
    far = ExactMarginal(torch.tensor([[100.0, 200.0], [140.0, 200.0]]), widths=2.0)
    tr = Trainer(far, ModelConfig(width=64, depth=2), small(steps=400, batch_size=256))
    assert not tr.normalization.is_identity and tr.normalization.scale > 5
    tr.run()
    x = tr.model().sample(2000, seed=0)
    assert abs(float(x[:, 0].mean()) - 120) < 6 and abs(float(x[:, 1].mean()) - 200) < 6


def test_bad_config_messages():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="parameterization"):
        ModelConfig(parameterization="magic")
    with pytest.raises(ValueError, match="dim"):
        Trainer(BLOBS, ModelConfig(dim=3), small())
