"""OnnxField: a model exported to ONNX and re-opened is the same field (velocity, score) and
samples the same; `flowscope sample --model FILE.onnx` uses it."""

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX is an optional extra")
pytest.importorskip("onnxscript", reason="ONNX is an optional extra")

from flowscope.cli import main  # noqa: E402
from flowscope.core.data import load_target  # noqa: E402
from flowscope.core.export import export_velocity  # noqa: E402
from flowscope.core.models import ModelConfig  # noqa: E402
from flowscope.core.onnx_field import OnnxField  # noqa: E402
from flowscope.core.samplers import sample_ode  # noqa: E402
from flowscope.train.trainer import TrainConfig, Trainer  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A conditional model on standardized data (shift and scale not the identity)."""
    torch.set_num_threads(1)
    tr = Trainer(
        load_target("two_moons"),
        ModelConfig(width=32, depth=2, num_classes=2),
        TrainConfig(steps=40, batch_size=128, schedule="cosine", device="cpu",
                    normalize="standardize"),
    )  # fmt: skip
    tr.run()
    model = tr.model()
    d = tmp_path_factory.mktemp("onnx")
    model.save(d / "m")
    path = export_velocity(model, d / "m.onnx")
    assert not model.normalization.is_identity
    return model, path, d


def test_metadata_says_the_conventions(exported):
    model, path, _ = exported
    field = OnnxField(path)
    meta = field.metadata
    assert meta["time_convention"] == "t0_noise_t1_data"
    assert meta["schedule"] == "cosine" and meta["parameterization"] == "velocity"
    assert (int(meta["dim"]), field.num_classes) == (2, 2)
    assert field.scale == pytest.approx(model.normalization.scale)
    assert field.class_names == model.class_names


def test_same_velocity_and_score_as_the_model(exported):
    model, path, _ = exported
    field = OnnxField(path)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 1.5
    for t in (0.0, 0.3, 0.9, 1.0):
        for y in (None, 1, torch.tensor([0, 1] * 32)):
            torch.testing.assert_close(
                field.velocity(x, t, y), model.velocity(x, t, y), rtol=0, atol=1e-4
            )
    for t in (0.2, 0.6):
        torch.testing.assert_close(field.score(x, t), model.score(x, t), rtol=1e-4, atol=1e-3)


def test_same_samples_as_the_model(exported):
    model, path, _ = exported
    field = OnnxField(path)
    x0 = field.source_sample(300, seed=4)
    mine = sample_ode(field, x0, steps=20, solver="heun").x
    theirs = sample_ode(model, x0, steps=20, solver="heun").x
    assert (mine - theirs).abs().max() < 1e-3
    for sigma, y in ((0.0, None), (0.5, 1)):
        a = field.sample(300, steps=15, sigma=sigma, w=2.0, y=y, seed=2)
        b = model.sample(300, steps=15, sigma=sigma, w=2.0, y=y, seed=2)
        assert (a - b).abs().max() < 1e-3, sigma


def test_cli_samples_an_onnx_file(exported, capsys):
    _, path, d = exported
    args = ["--n", "200", "--steps", "10", "--label", "1", "--w", "1.5", "--seed", "3"]
    assert main(["sample", "--model", str(path), "--out", str(d / "a.npy"), *args]) == 0
    assert main(["sample", "--model", str(d / "m"), "--out", str(d / "b.npy"), *args]) == 0
    a, b = np.load(d / "a.npy"), np.load(d / "b.npy")
    assert a.shape == (200, 2) and np.abs(a - b).max() < 1e-3


def test_a_pickle_named_onnx_is_refused_not_run(tmp_path, capsys):
    bad = tmp_path / "evil.onnx"
    bad.write_bytes(pickle.dumps({"a": 1}))
    assert main(["sample", "--model", str(bad), "--out", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowscope: error:") and "not a readable ONNX model" in err
    assert len(err.splitlines()) == 1
