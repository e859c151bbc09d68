"""Model directories (safetensors + JSON), the public API, pickle refusal and export."""

import json
import pickle

import pytest
import torch

import flowscope
from flowscope.core.checkpoint import CheckpointError
from flowscope.core.data import load_target
from flowscope.core.export import export_velocity
from flowscope.core.models import ModelConfig
from flowscope.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    target = load_target("two_moons")
    tr = Trainer(
        target,
        ModelConfig(width=32, depth=2, num_classes=2, parameterization="noise"),
        TrainConfig(steps=60, batch_size=128, schedule="cosine", device="cpu"),
    )
    tr.run()
    d = tmp_path_factory.mktemp("model")
    tr.model().save(d)
    return tr.model(), d


def test_round_trip_gives_identical_outputs(trained):
    model, d = trained
    for path in (d, d / "model.json", d / "model.safetensors"):
        back = flowscope.load(path)
        x = torch.randn(20, 2)
        for y in (None, 1):
            torch.testing.assert_close(
                back.velocity(x, 0.4, y), model.velocity(x, 0.4, y), rtol=0, atol=0
            )
            torch.testing.assert_close(
                back.score(x, 0.4, y), model.score(x, 0.4, y), rtol=0, atol=0
            )
        torch.testing.assert_close(
            back.sample(50, seed=3, y=0, w=2.0),
            model.sample(50, seed=3, y=0, w=2.0),
            rtol=0,
            atol=0,
        )


def test_metadata_says_everything_needed(trained):
    _, d = trained
    meta = json.loads((d / "model.json").read_text())
    assert meta["format"] == "flowscope-model" and meta["format_version"] == 1
    assert meta["time_convention"] == "t=0 noise, t=1 data"
    assert meta["model_config"]["num_classes"] == 2
    assert meta["schedule"] == "cosine" and meta["parameterization"] == "noise"
    assert meta["normalization"] == {"shift": [0.0, 0.0], "scale": 1.0}
    assert meta["class_names"] == ["upper", "lower"]  # two_moons names its classes
    assert meta["training"]["steps"] == 60


def test_sample_api_shapes_and_trajectory(trained):
    model, _ = trained
    x = model.sample(30, steps=10, seed=0)
    assert x.shape == (30, 2) and x.dtype == torch.float32
    traj = model.sample_trajectories(30, steps=10, seed=0)
    assert traj.xs.shape == (11, 30, 2) and traj.t.shape == (11,)
    torch.testing.assert_close(traj.x, x)
    torch.testing.assert_close(traj.xs[-1], x)
    sparse = model.sample_trajectories(30, steps=10, seed=0, save_every=4)
    assert sparse.t.tolist() == pytest.approx([0.0, 0.4, 0.8, 1.0])
    torch.testing.assert_close(sparse.xs, traj.xs[[0, 4, 8, 10]])
    sde = model.sample(30, steps=10, sigma=0.5, seed=0)
    assert not torch.equal(sde, x) and torch.isfinite(sde).all()
    # one type per method: the same SDE noise gives the same samples along the path
    torch.testing.assert_close(model.sample_trajectories(30, steps=10, sigma=0.5, seed=0).x, sde)
    with pytest.raises(TypeError, match="return_trajectory"):
        model.sample(30, return_trajectory=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="class labels"):
        model.velocity(torch.zeros(2, 2), 0.5, y=5)


class Boom:
    """Unpickling this would create a file: the test proves that never happens."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_as_model_is_refused_and_not_executed(tmp_path, trained):
    _, good = trained
    marker = tmp_path / "pwned"
    # a pickle placed where the weights should be
    d = tmp_path / "evil"
    d.mkdir()
    (d / "model.json").write_text((good / "model.json").read_text())
    (d / "model.safetensors").write_bytes(pickle.dumps(Boom(str(marker))))
    with pytest.raises(CheckpointError, match="never unpickles"):
        flowscope.load(d)
    # a torch.save file passed directly
    pt = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2), "boom": Boom(str(marker))}, pt)
    with pytest.raises(CheckpointError, match="never unpickles"):
        flowscope.load(pt)
    assert not marker.exists()


def test_bad_model_paths_have_clear_messages(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        flowscope.load(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="missing"):
        flowscope.load(tmp_path)
    d = tmp_path / "broken"
    d.mkdir()
    (d / "model.json").write_text("{not json")
    (d / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(CheckpointError, match="JSON"):
        flowscope.load(d)


def test_export_pt2_matches_model(tmp_path, trained):
    model, _ = trained
    p = export_velocity(model, tmp_path / "v.pt2")
    fn = torch.export.load(str(p)).module()
    x = torch.randn(9, 2)
    y = torch.tensor([0, 1, 2] * 3)  # 2 = the null label (unconditional)
    out = fn(x, torch.full((9,), 0.3), y)
    ref = model.velocity(x, 0.3, torch.where(y == 2, -1, y))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    out_scalar = fn(x, torch.tensor([0.3]), y)  # one t for the whole batch
    torch.testing.assert_close(out_scalar, ref, rtol=1e-5, atol=1e-5)


def test_export_onnx_matches_model(tmp_path, trained):
    ort = pytest.importorskip("onnxruntime", reason="ONNX export is an optional extra")
    model, _ = trained
    p = export_velocity(model, tmp_path / "v.onnx")
    sess = ort.InferenceSession(str(p))
    x = torch.randn(5, 2)
    for t in (torch.full((5,), 0.7), torch.tensor([0.7])):
        out = sess.run(
            None, {"x": x.numpy(), "t": t.numpy(), "y": torch.ones(5, dtype=torch.long).numpy()}
        )[0]
        torch.testing.assert_close(
            torch.from_numpy(out), model.velocity(x, 0.7, 1), rtol=1e-4, atol=1e-4
        )


def test_public_api_names():
    assert flowscope.ExactMarginal is not None and callable(flowscope.load)
    assert flowscope.data.load_target("gaussian").exact.dim == 2
    assert flowscope.__version__


def test_safetensors_whose_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """Regression: the header length's first byte can be 0x80, the pickle protocol marker."""
    from flowscope.core.checkpoint import read_checkpoint, save_checkpoint

    for pad in range(40):  # vary the header length until its low byte is 0x80
        d = save_checkpoint(tmp_path / f"m{pad}", {"w" + "x" * pad: torch.ones(2)}, {})
        raw = (d / "model.safetensors").read_bytes()
        if raw[0] == 0x80:
            state, _ = read_checkpoint(d)
            assert torch.equal(state["w" + "x" * pad], torch.ones(2))
            return
    pytest.fail("no header length with low byte 0x80 was produced")


def test_loading_a_model_does_not_import_torch_compiler_machinery(tmp_path):
    """The shape check builds the network on the meta device before loading weights; a
    torch.arange there went through torch's decompositions, whose first use imports
    torch._dynamo: 2 s of the GUI thread on every File > Open (bench/gui_latency.py)."""
    import subprocess
    import sys

    from flowscope.core.flow_model import FlowModel
    from flowscope.core.models import ModelConfig, build_model

    unet = ModelConfig(arch="unet", image_shape=(1, 8, 8), num_classes=3)
    for name, cfg in [("mlp", ModelConfig(num_classes=2)), ("unet", unet)]:
        FlowModel(build_model(cfg), cfg).save(tmp_path / name)
    code = (
        "import sys\n"
        "from flowscope.core.flow_model import load\n"
        f"load({str(tmp_path / 'mlp')!r}); load({str(tmp_path / 'unet')!r})\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
