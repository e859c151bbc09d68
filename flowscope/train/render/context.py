"""What outlives one request on a render worker: an inference model per request kind, and the
cache of exact heatmaps. Qt-free."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch

from ...core.exact import ExactMarginal
from ...core.flow_model import FlowModel
from ..trainer import Snapshot

DENSITY_CACHE_SIZE = 600  # 96 x 96 float32 grids: ~22 MB at most


class Abandoned(Exception):
    """The worker computing a request is stopping (its window closed): nobody wants the result,
    so the computation ends at its next network evaluation instead of running to its end."""


class RenderContext:
    """The state one render worker (a thread or the compute child) keeps between requests.

    Not locked: the requests a worker renders at once (a field served between the field
    evaluations of a trajectory) use different model slots, and the density cache is only
    read and written between evaluations."""

    def __init__(self) -> None:
        self.models: dict[str, tuple[object, FlowModel]] = {}  # slot -> (snapshot key, model)
        #: exact heatmaps by (target, t quantum, class, w, kind, bounds, grid), oldest first
        self.density_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        #: set by a worker thread: True once what it computes is abandoned (it is stopping).
        #: Every forward pass of an inference model made here checks it (a hook), so requests
        #: without pause points (straightness, steps curve, reflow pairs, images) end too.
        self.cancelled: Callable[[], bool] | None = None

    def model_for(self, snapshot: Snapshot, slot: str) -> FlowModel:
        """An inference model holding ``snapshot``'s weights. Each slot (request kind) has its
        own model: a field computed while a trajectory is paused must not swap the weights
        under it."""
        # step and creation time: unique per snapshot, also after a Reset and across processes
        key = (snapshot.step, snapshot.wall_time, snapshot.target_version)
        held = self.models.get(slot)
        if held is not None and held[0] == key:
            return held[1]
        m = None if held is None else held[1]
        if m is None or m.config != snapshot.config or m.normalization != snapshot.normalization:
            m = snapshot.to_model()
            net = getattr(m, "net", None)  # an external field's stand-in has no network
            if isinstance(net, torch.nn.Module):
                net.register_forward_pre_hook(self._check_cancelled)
        else:
            m.net.load_state_dict(snapshot.state_dict)
            m.schedule = _schedule(snapshot.schedule)
        self.models[slot] = (key, m)
        return m

    def _check_cancelled(self, module, args) -> None:
        """A forward pre-hook on every inference model: raise :class:`Abandoned` when the
        worker stopped."""
        cancelled = self.cancelled
        if cancelled is not None and cancelled():
            raise Abandoned

    def field_for(
        self, exact: ExactMarginal, snapshot: Snapshot | None, slot: str
    ) -> ExactMarginal | FlowModel:
        """The exact field (``snapshot`` None), or an inference model holding its weights."""
        return exact if snapshot is None else self.model_for(snapshot, slot)

    def cached_density(self, key: tuple) -> torch.Tensor | None:
        hit = self.density_cache.get(key)
        if hit is not None:
            self.density_cache.move_to_end(key)
        return hit

    def keep_density(self, key: tuple, density: torch.Tensor) -> None:
        self.density_cache[key] = density
        while len(self.density_cache) > DENSITY_CACHE_SIZE:
            self.density_cache.popitem(last=False)


def _schedule(name: str):
    from ...core.schedules import get_schedule

    return get_schedule(name)
