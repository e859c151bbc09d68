"""The Field protocol the samplers, metrics and diagnostics integrate: ``velocity(x, t, y)``,
``score(x, t, y)`` and ``velocity_and_score(x, t, y)`` (x (N, ...), t a float or (N,) tensor,
y None / an int / an (N,) label tensor; t = 0 noise, t = 1 data).

:class:`Field` is what every sampler integrates (the ODE dX_t = u_t(X_t) dt needs only the
velocity); :class:`ScoreField` adds the score the SDE's sigma_t^2 / 2 grad log p_t term needs.
``velocity_and_score`` is optional: samplers use it when a field offers it (one evaluation for
both) and fall back to two calls. ExactMarginal, FlowModel, GuidedField, ExternalField,
OnnxField and the bridge fields all satisfy ScoreField structurally (no base class needed).

:class:`EvaluatedField` derives all three from one ``_evaluate(x, t, y, kinds)`` that returns
``{kind: value}`` (see paths.evaluate_as: each kind evaluated and converted at one time), so a
network of any parameterization is a field by writing that one method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import torch

#: a time: a float for every row, or an (N,) tensor
Time: TypeAlias = float | torch.Tensor
#: a label: None (unconditional), one class for every row, or an (N,) long tensor
Label: TypeAlias = int | torch.Tensor | None


@runtime_checkable
class Field(Protocol):
    """Anything with ``velocity(x, t, y=None)``: u_t(x [| y]), shaped like x. The arguments are
    positional (implementations name them as they like, e.g. ``xn`` for a normalized x)."""

    def velocity(self, x: torch.Tensor, t: Time, y: Label = None, /) -> torch.Tensor: ...


@runtime_checkable
class ScoreField(Field, Protocol):
    """A :class:`Field` that also gives the score grad log p_t(x [| y]), shaped like x."""

    def score(self, x: torch.Tensor, t: Time, y: Label = None, /) -> torch.Tensor: ...


class EvaluatedField:
    """velocity / score / velocity_and_score from ``_evaluate(x, t, y, kinds)``."""

    def _evaluate(self, x: torch.Tensor, t, y, kinds: Sequence[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def velocity(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        """u_t(x [| y]), shaped like x."""
        return self._evaluate(x, t, y, ("velocity",))["velocity"]

    def score(self, x: torch.Tensor, t, y=None) -> torch.Tensor:
        """grad log p_t(x [| y]), shaped like x (converted when the network predicts another
        parameterization)."""
        return self._evaluate(x, t, y, ("score",))["score"]

    def velocity_and_score(self, x: torch.Tensor, t, y=None):
        """(u_t(x), grad log p_t(x)) from as few network evaluations as the conversions allow."""
        out = self._evaluate(x, t, y, ("velocity", "score"))
        return out["velocity"], out["score"]
