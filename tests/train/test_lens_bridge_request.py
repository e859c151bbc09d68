"""The lens's network arrow for a model trained from a non-Gaussian source p_init: its velocity
is the model's, its score is NaN (the score conversion assumes x_0 ~ N(0, I)), never a raise."""

import numpy as np
import torch

from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.train.compute import ComputeWorker
from flowscope.train.lens import LensRequest
from flowscope.train.trainer import TrainConfig, Trainer


def test_lens_request_of_a_bridge_model_gives_its_velocity_and_no_score():
    tgt = ExactMarginal(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), widths=0.4)
    src = ExactMarginal(torch.tensor([[0.0, -2.0], [0.0, 2.0]]), widths=0.3)
    tr = Trainer(tgt, ModelConfig(width=16, depth=2), TrainConfig(steps=5, batch_size=32),
                 source=src)  # fmt: skip
    tr.run()
    snap = tr.snapshot()
    assert snap.source is not None
    res = ComputeWorker().compute_now(LensRequest(2, snap, (0.4, -0.7), 0.6))
    m = snap.to_model()
    x, t = torch.tensor([[0.4, -0.7]]), torch.full((1,), 0.6)
    np.testing.assert_allclose(res.velocity, m.velocity(x, t).double().numpy()[0], atol=1e-6)
    assert np.isnan(res.score).all()
