"""The fields the renderers integrate and draw: a model seen in data coordinates, a field that
yields between evaluations, and the exact field of the path from another source. Qt-free."""

from __future__ import annotations

from collections.abc import Callable

from ...core.bridge import is_standard_gaussian
from ...core.exact import ExactMarginal
from ...core.flow_model import FlowModel
from ...core.samplers import velocity_and_score


def with_source(exact: ExactMarginal, source: ExactMarginal | None):
    """The exact oracle of the path from ``source`` to ``exact`` (issue 14): ``exact`` itself for
    N(0, I) (or None), else the independent-coupling bridge (ExactMarginal.bridge)."""
    if source is None or is_standard_gaussian(source):
        return exact
    return exact.bridge(source, exact)


class DataField:
    """A FlowModel seen as a field in data coordinates (what the views show)."""

    def __init__(self, model: FlowModel):
        self.m = model

    def velocity(self, x, t, y=None):
        return self.m.velocity(x.float(), t.float(), y)

    def score(self, x, t, y=None):
        return self.m.score(x.float(), t.float(), y)

    def velocity_and_score(self, x, t, y=None):
        return self.m.velocity_and_score(x.float(), t.float(), y)


class PausingField:
    """A field that calls ``pause()`` before each evaluation (see :func:`..render`): the
    scheduler serves more urgent requests there, or raises to abandon this one."""

    def __init__(self, field, pause: Callable[[], None]):
        self.f, self.pause = field, pause

    def velocity(self, x, t, y=None):
        self.pause()
        return self.f.velocity(x, t, y)

    def score(self, x, t, y=None):
        self.pause()
        return self.f.score(x, t, y)

    def velocity_and_score(self, x, t, y=None):
        self.pause()
        return velocity_and_score(self.f, x, t, y)
