"""Image models end to end: training a U-Net on digits, FlowModel on images, checkpoints, samplers
on image-shaped tensors and classifier-free guidance identities."""

import json
import math

import pytest
import torch

import flowscope
from flowscope.core import samplers
from flowscope.core.images import ImageDataset, load_image_dataset
from flowscope.core.models import ModelConfig
from flowscope.train import Snapshot, TrainConfig, Trainer

TINY = dict(arch="unet", channels=8, time_features=8)


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    """150 steps of a tiny conditional U-Net on digits (a few seconds)."""
    torch.manual_seed(0)
    snaps: list[Snapshot] = []
    tr = Trainer(
        digits,
        ModelConfig(image_shape=digits.shape, num_classes=10, **TINY),
        TrainConfig(steps=150, batch_size=64, lr=3e-3, ema_decay=0.99, device="cpu"),
        on_snapshot=snaps.append,
    )
    tr.run()
    return tr, snaps


def test_short_training_lowers_the_loss(trained):
    tr, _ = trained
    h = tr.history.losses
    assert tr.error is None and tr.step_count == 150 and all(map(math.isfinite, h))
    early, late = sum(h[:15]) / 15, sum(h[-30:]) / 30
    assert late < 0.75 * early, (early, late)
    assert tr.exact is None and tr.dataset is not None
    assert tr.normalization.value_range == (0.0, 16.0)


def test_sample_shapes_value_range_and_kind(trained):
    tr, _ = trained
    m = tr.model()
    assert m.kind == "image" and m.metadata["kind"] == "image" and m.value_range == (0.0, 16.0)
    x = m.sample(12, steps=8, seed=0, y=3, w=2.0)
    assert x.shape == (12, 1, 8, 8) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 16.0
    raw = m.sample(12, steps=8, seed=0, y=3, w=2.0, clip=False)
    torch.testing.assert_close(raw.clamp(0, 16), x)
    traj = m.sample_trajectories(5, steps=4, seed=0, chunk_size=2)
    assert traj.xs.shape == (5, 5, 1, 8, 8) and traj.t.shape == (5,)
    torch.testing.assert_close(traj.xs[-1], traj.x)
    y = torch.arange(10)
    assert m.sample(10, steps=4, seed=1, y=y).shape == (10, 1, 8, 8)
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        m.velocity(torch.zeros(2, 64), 0.5)


def test_checkpoint_round_trip_identical_outputs(trained, tmp_path):
    tr, _ = trained
    m = tr.model()
    m.save(tmp_path / "digits")
    meta = json.loads((tmp_path / "digits" / "model.json").read_text())
    assert meta["kind"] == "image" and meta["value_range"] == [0.0, 16.0]
    assert meta["model_config"]["arch"] == "unet" and meta["model_config"]["channels"] == 8
    assert meta["model_config"]["image_shape"] == [1, 8, 8] and meta["image_shape"] == [1, 8, 8]
    assert meta["class_names"] == [str(i) for i in range(10)]
    back = flowscope.load(tmp_path / "digits")
    assert back.config == m.config and back.kind == "image" and back.value_range == (0.0, 16.0)
    x = torch.rand(6, 1, 8, 8) * 16
    for y in (None, 4):
        torch.testing.assert_close(back.velocity(x, 0.3, y), m.velocity(x, 0.3, y), rtol=0, atol=0)
        torch.testing.assert_close(back.score(x, 0.3, y), m.score(x, 0.3, y), rtol=0, atol=0)
    torch.testing.assert_close(
        back.sample(6, steps=5, seed=2, y=1, w=3.0),
        m.sample(6, steps=5, seed=2, y=1, w=3.0),
        rtol=0,
        atol=0,
    )


def test_snapshot_to_model_and_ema(trained):
    tr, snaps = trained
    assert snaps and snaps[-1].step == 150
    m = snaps[-1].to_model()
    assert m.kind == "image" and m.value_range == (0.0, 16.0)
    x = torch.rand(3, 1, 8, 8) * 16
    torch.testing.assert_close(m.velocity(x, 0.5, 2), tr.model().velocity(x, 0.5, 2))
    raw = {k: v for k, v in tr.net.state_dict().items()}
    assert any(not torch.equal(raw[k], v) for k, v in snaps[-1].state_dict.items())  # EMA


def test_image_ode_and_sde_sampling(trained):
    tr, _ = trained
    field = tr.model()
    x0 = torch.randn(6, 1, 8, 8) * 8 + 8  # data coordinates, like the model's inputs
    ode = samplers.sample_ode(field, x0, 6, "euler", y=2).x
    sde = samplers.sample_sde(field, x0, 6, sigma=0.0, seed=1, y=2).x
    torch.testing.assert_close(sde, ode)
    noisy = samplers.sample_sde(field, x0, 6, sigma=0.5, sigma_schedule="linear", seed=1, y=2)
    assert noisy.x.shape == x0.shape and not torch.equal(noisy.x, ode)
    for solver in ("heun", "rk4"):
        t = samplers.sample_ode(field, x0, 3, solver, return_trajectory=True)
        assert t.xs.shape == (4, 6, 1, 8, 8)


def test_cfg_identities_on_a_unet(trained):
    tr, _ = trained
    m = tr.model()
    x, t = torch.rand(5, 1, 8, 8) * 16, torch.full((5,), 0.6)
    cond, uncond = m.velocity(x, t, 7), m.velocity(x, t, None)
    assert not torch.allclose(cond, uncond)
    torch.testing.assert_close(samplers.GuidedField(m, 7, 0.0).velocity(x, t), uncond)
    torch.testing.assert_close(samplers.GuidedField(m, 7, 1.0).velocity(x, t), cond)
    torch.testing.assert_close(
        samplers.GuidedField(m, 7, 2.5).velocity(x, t), -1.5 * uncond + 2.5 * cond
    )
    u, s = samplers.GuidedField(m, 7, 2.0).velocity_and_score(x, t)
    torch.testing.assert_close(s, 2 * m.score(x, t, 7) - m.score(x, t, None))
    torch.testing.assert_close(u, 2 * cond - uncond)


def test_set_target_images_same_shape_only(digits):
    tr = Trainer(
        digits,
        ModelConfig(image_shape=digits.shape, **TINY),
        TrainConfig(steps=None, batch_size=8, device="cpu"),
    )
    tr.step(2)
    other = ImageDataset(torch.ones(3, 1, 8, 8), value_range=(0, 255), name="white")
    tr.set_target(other)
    tr.step(1)
    assert tr.target_version == 1 and tr.dataset is other
    z, labels = tr._sampler(16)
    assert labels is None and bool((z == 1).all())
    with pytest.raises(ValueError, match="shape"):
        tr.set_target(ImageDataset(torch.zeros(2, 3, 8, 8)))
    with pytest.raises(ValueError, match="shape"):
        tr.set_target(flowscope.data.load_target("two_moons"))
    with pytest.raises(ValueError, match="image_shape"):
        Trainer(digits, ModelConfig(), TrainConfig(steps=1))
    default = Trainer(digits, None, TrainConfig(steps=1, device="cpu"))
    assert default.model_config.arch == "unet" and default.model_config.num_classes == 10


def test_every_objective_trains_on_images(digits):
    for objective in ("score", "noise"):
        tr = Trainer(
            digits,
            ModelConfig(image_shape=digits.shape, parameterization=objective, **TINY),
            TrainConfig(steps=5, batch_size=16, schedule="cosine", device="cpu"),
        )
        tr.run()
        assert tr.error is None and all(map(math.isfinite, tr.history.losses))
        x = tr.model().sample(3, steps=3, seed=0)
        assert torch.isfinite(x).all()


def test_export_pt2_of_an_image_model(trained, tmp_path):
    from flowscope.core.export import export_velocity

    tr, _ = trained
    m = tr.model()
    fn = torch.export.load(str(export_velocity(m, tmp_path / "v.pt2"))).module()
    x = torch.rand(4, 1, 8, 8) * 16
    y = torch.tensor([0, 3, 10, 9])  # 10 = the null label
    ref = m.velocity(x, 0.4, torch.where(y == 10, -1, y))
    torch.testing.assert_close(fn(x, torch.tensor([0.4]), y), ref, rtol=1e-5, atol=1e-4)


def test_export_onnx_of_an_image_model(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="ONNX export is an optional extra")
    from flowscope.core.export import export_velocity

    tr, _ = trained
    m = tr.model()
    sess = ort.InferenceSession(str(export_velocity(m, tmp_path / "v.onnx", "onnx")))
    x = torch.rand(4, 1, 8, 8) * 16
    y = torch.tensor([0, 3, 10, 9])  # 10 = the null label
    ref = m.velocity(x, 0.4, torch.where(y == 10, -1, y))
    for t in (torch.full((4,), 0.4), torch.tensor([0.4])):
        feeds = {"x": x.numpy(), "t": t.numpy(), "y": y.numpy()}
        out = torch.from_numpy(sess.run(None, feeds)[0])
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-3)


def test_load_weights_starts_the_ema_from_them(digits):
    cfg = ModelConfig(image_shape=digits.shape, num_classes=10, **TINY)
    a = Trainer(digits, cfg, TrainConfig(steps=5, batch_size=16, ema_decay=0.999, device="cpu"))
    a.run()
    saved = a.snapshot().state_dict
    b = Trainer(digits, cfg, TrainConfig(steps=None, batch_size=16, ema_decay=0.999, seed=1))
    b.load_weights(saved, step=5)
    snap = b.latest_snapshot
    assert snap.step == 5
    for k, v in saved.items():  # what the views sample with is the loaded model, not a new EMA
        torch.testing.assert_close(snap.state_dict[k], v)
