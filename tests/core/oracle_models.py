"""A 'perfect network': an nn.Module that outputs the exact marginal's velocity, score or noise
(in the network's normalized coordinates), wrapped as a FlowModel. Any difference between such a
model and the ExactMarginal is a bug in the model's plumbing (conversions, normalization), not
in training."""

from __future__ import annotations

import torch
from torch import nn

from flowscope.core.flow_model import FlowModel, Normalization
from flowscope.core.models import ModelConfig


class OracleNet(nn.Module):
    """net(x', t, y) = the exact quantity of ``parameterization`` for the mixture of x'."""

    def __init__(self, exact, parameterization: str):
        super().__init__()
        self.exact, self.parameterization = exact, parameterization
        self.dummy = nn.Parameter(torch.zeros(()))  # FlowModel reads the device from a parameter

    def forward(self, x, t, y=None):
        f = self.exact.evaluate(x.double(), t.double())
        if self.parameterization == "velocity":
            out = f.velocity
        elif self.parameterization == "score":
            out = f.score
        else:  # eps = -beta_t score
            out = -self.exact.schedule(t.double()).beta[:, None] * f.score
        return out.to(x.dtype)


def oracle_model(exact, parameterization="velocity", shift=(0.0, 0.0), scale=1.0) -> FlowModel:
    """A FlowModel in data coordinates whose network is exact for ``exact`` (a data-space
    ExactMarginal); with shift/scale it sees x' = (x - shift) / scale like a normalized model."""
    norm = Normalization(tuple(float(s) for s in shift), float(scale))
    net = OracleNet(exact.affine(shift, scale), parameterization)
    config = ModelConfig(dim=exact.dim, parameterization=parameterization, width=4, depth=1)
    return FlowModel(net, config, exact.schedule, norm)
