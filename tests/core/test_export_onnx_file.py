"""ONNX export writes one self-contained file for a small model (no FILE.onnx.data beside it)."""

import shutil

import numpy as np
import pytest
import torch

from flowscope.core import export as export_mod
from flowscope.core.exact import ExactMarginal
from flowscope.core.export import export_velocity
from flowscope.core.models import ModelConfig
from flowscope.train.trainer import TrainConfig, Trainer

pytest.importorskip("onnxscript", reason="ONNX export is an optional extra")


@pytest.fixture(scope="module")
def model():
    em = ExactMarginal(torch.tensor([[-1.0, 0.0], [1.0, 0.5]]), widths=0.3)
    cfg = TrainConfig(steps=2, batch_size=16, device="cpu", ema_decay=None)
    return Trainer(em, ModelConfig(width=16, depth=2), cfg).run().model()


def test_small_model_is_one_file_that_runs_after_a_move(tmp_path, model):
    ort = pytest.importorskip("onnxruntime")
    p = export_velocity(model, tmp_path / "a" / "v.onnx")
    assert sorted(f.name for f in p.parent.iterdir()) == ["v.onnx"]
    moved = tmp_path / "elsewhere.onnx"
    shutil.move(p, moved)  # a lone file must still load: the weights are inside
    x = torch.randn(6, 2)
    out = ort.InferenceSession(str(moved)).run(
        None, {"x": x.numpy(), "t": torch.full((6,), 0.4).numpy()}
    )[0]
    torch.testing.assert_close(torch.from_numpy(out), model.velocity(x, 0.4), atol=1e-4, rtol=1e-4)


def test_large_weights_go_to_a_data_file_beside_it(tmp_path, model, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    monkeypatch.setattr(export_mod, "ONNX_INLINE_BYTES", 0)
    p = export_velocity(model, tmp_path / "v.onnx")
    # named after the final file (not the temporary one the graph was written to)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["v.onnx", "v.onnx.data"]
    x = torch.randn(3, 2)
    out = ort.InferenceSession(str(p)).run(None, {"x": x.numpy(), "t": np.full(3, 0.4, "f4")})[0]
    torch.testing.assert_close(torch.from_numpy(out), model.velocity(x, 0.4), atol=1e-4, rtol=1e-4)
