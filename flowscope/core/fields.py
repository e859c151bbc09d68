"""The Field protocol the samplers, metrics and diagnostics integrate: ``velocity(x, t, y)``,
``score(x, t, y)`` and ``velocity_and_score(x, t, y)`` (x (N, ...), t a float or (N,) tensor,
y None / an int / an (N,) label tensor; t = 0 noise, t = 1 data).

:class:`EvaluatedField` derives all three from one ``_evaluate(x, t, y, kinds)`` that returns
``{kind: value}`` (see paths.evaluate_as: each kind evaluated and converted at one time), so a
network of any parameterization is a field by writing that one method.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


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
