"""FieldSnapshot: a fixed 2D field (an ExternalField, an OnnxField, a FlowModel) handed to the
compute worker in place of a training snapshot, so the explorer shows it exactly as it shows learned
weights: particles from the ODE / SDE of its velocity (and score), arrows and heatmaps at t.

It has the attributes ``RenderContext.model_for`` (train/render) reads from a training Snapshot
(step, wall_time, target_version, config, normalization, to_model). ``to_model()`` returns the field
itself in data coordinates (velocity, score, velocity_and_score), under a ``config`` unique to
this snapshot, so the worker never mistakes it for trained weights.

Pickling (the compute child process): an OnnxField travels as its path and is reopened there
(an onnxruntime session is not picklable; an ONNX file holds no code); a FlowModel travels by
value; any other field (a user's function) must stay in this process: use a thread worker.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import torch

_ids = itertools.count(1)


class FieldSnapshot:
    """A fixed field seen by the compute worker as 'learned' weights at step 0."""

    step = 0
    loss = float("nan")
    target_version = 0
    steps_per_sec = 0.0
    normalization = None
    source = None

    def __init__(self, field: Any, name: str = "external field", class_names=None):
        for method in ("velocity", "score", "velocity_and_score"):
            if not callable(getattr(field, method, None)):
                raise TypeError(f"{type(field).__name__} is not a field: it has no {method}()")
        self.field = field
        self.name = str(name)
        self.class_names = class_names
        self.wall_time = time.time()
        #: unique per snapshot: the worker rebuilds its model when this changes
        self.config = ("fixed-field", next(_ids), self.wall_time)
        self.schedule = getattr(getattr(field, "schedule", None), "name", "condot")

    def to_model(self, device: str | torch.device = "cpu") -> _FixedModel:
        return _FixedModel(self.field, self.config)

    def __getstate__(self) -> dict:
        from ..core.onnx_field import OnnxField

        state = dict(self.__dict__)
        if isinstance(self.field, OnnxField):
            state["field"] = None
            state["onnx_path"] = str(self.field.path)
        return state

    def __setstate__(self, state: dict) -> None:
        path = state.pop("onnx_path", None)
        self.__dict__.update(state)
        if path is not None:
            from ..core.onnx_field import OnnxField

            self.field = OnnxField(path)


class _FixedModel:
    """The field under the snapshot's config (what RenderContext keeps per slot)."""

    normalization = None

    def __init__(self, field: Any, config):
        self.field, self.config = field, config

    def velocity(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        return self.field.velocity(x, t, y).float()

    def score(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        return self.field.score(x, t, y).float()

    def velocity_and_score(self, x: torch.Tensor, t, y=None):
        u, s = self.field.velocity_and_score(x, t, y)
        return u.float(), s.float()
