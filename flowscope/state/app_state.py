"""The explorer's parameters as one evented object (no Qt, no tensors).

Widgets and workers subscribe with ``state.subscribe(callback)``; ``callback(name, value)`` runs
after every change made with ``state.set(name=value, ...)``. Setting a value equal to the current
one emits nothing, so a widget that writes back what it was just told cannot start an echo loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

from ..core.defaults import BATCH_2D, DEPTH_2D, LR_2D, WIDTH_2D

Listener = Callable[[str, object], None]

CHOICES = {
    "solver": ("euler", "heun", "rk4"),
    "sigma_schedule": ("constant", "linear", "sqrt"),
    "objective": ("velocity", "score", "noise"),
    "schedule": ("condot", "cosine", "vp", "sqrt", "poly2"),
    "field_source": ("learned", "exact", "difference"),
    "density_source": ("exact", "histogram", "guided"),
    "guide_part": ("guided", "conditional", "unconditional"),
    "particles_follow": ("auto", "learned", "exact"),
    "color": ("auto", "grayscale", "rgb"),
}


class Evented:
    """Attributes that notify subscribers when changed through :meth:`set`."""

    def __post_init__(self):
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(name, value)`` after each change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def set(self, **changes) -> list[str]:
        """Validate and apply changes; notify once per changed field. Returns the changed names."""
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise AttributeError(f"{type(self).__name__} has no parameter {name!r}")
            if name in CHOICES and value not in CHOICES[name]:
                raise ValueError(f"{name} must be one of {CHOICES[name]}, got {value!r}")
        changed = [n for n, v in changes.items() if getattr(self, n) != v]
        for n in changed:
            object.__setattr__(self, n, changes[n])
        for n in changed:
            for listener in list(self._listeners):
                listener(n, getattr(self, n))
        return changed

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def update_from_dict(self, d: dict) -> list[str]:
        """Apply the known keys of ``d`` (unknown keys are ignored: files from newer versions)."""
        known = {f.name for f in fields(self)}
        return self.set(**{k: v for k, v in d.items() if k in known})


@dataclass(eq=False)
class AppState(Evented):
    """Everything the user can set in the explorer. Time convention: t=0 noise, t=1 data."""

    # target
    target_source: str = "two_moons"  # a preset name, a file path, or "drawing"
    # sampling / view
    t: float = 0.0
    playing: bool = True
    loop: bool = True
    steps: int = 50
    solver: str = "heun"
    sigma: float = 0.8
    sigma_schedule: str = "constant"
    drop_score_term: bool = False
    n_particles: int = 4000
    w: float = 1.0
    label: int = -1  # -1: unconditional
    seed: int = 0
    particles_follow: str = "auto"  # auto: the learned model once there is one, else exact
    field_source: str = "learned"
    guide_part: str = "guided"  # which CFG field the arrows show when a class is chosen
    density_source: str = "exact"
    show_density: bool = True
    show_field: bool = True
    show_score: bool = False
    show_trails: bool = True
    show_particles: bool = True
    # training
    objective: str = "velocity"
    schedule: str = "condot"
    width: int = WIDTH_2D  # the 2D recipe, shared with the CLI and the library (core/defaults)
    depth: int = DEPTH_2D
    batch_size: int = BATCH_2D
    lr: float = LR_2D
    device: str = "auto"
    label_dropout: float = 0.1
    _listeners: list = field(default_factory=list, repr=False)

    def __post_init__(self):
        super().__post_init__()
