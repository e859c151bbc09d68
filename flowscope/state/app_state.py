"""The explorer's parameters as one evented object (no Qt, no tensors).

Widgets and workers subscribe with ``state.subscribe(callback)``; ``callback(name, value)`` runs
after every change made with ``state.set(name=value, ...)``. Setting a value equal to the current
one emits nothing, so a widget that writes back what it was just told cannot start an echo loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar

from ..core.couplings import COUPLINGS
from ..core.defaults import BATCH_2D, DEPTH_2D, LR_2D, WIDTH_2D
from ..core.images import COLOR_MODES
from ..core.paths import PARAMETERIZATIONS
from ..core.samplers import SIGMA_SCHEDULES, SOLVERS
from ..core.schedules import SCHEDULE_NAMES
from ..train.compute import DENSITY_SOURCES, FIELD_SOURCES, GUIDE_PARTS

Listener = Callable[[str, object], None]

#: every choice list is defined once, next to the code that implements it
CHOICES = {
    "solver": SOLVERS,
    "sigma_schedule": SIGMA_SCHEDULES,
    "objective": PARAMETERIZATIONS,
    "schedule": SCHEDULE_NAMES,
    "field_source": FIELD_SOURCES,
    "density_source": DENSITY_SOURCES,
    "guide_part": GUIDE_PARTS,
    "particles_follow": ("auto", "learned", "exact"),  # auto: learned once there are weights
    "color": COLOR_MODES,
    "coupling": COUPLINGS,  # issue 14: how (x_0, x_1) pairs are drawn in training
}


#: longest text a string parameter may hold (a path, a list of guidance scales)
MAX_TEXT = 4096


def check_value(owner: str, name: str, value, default, bounds: tuple | None):
    """``value`` as the type of ``default`` (bool, int, float or str), inside ``bounds``
    (lo, hi) when given; raises ValueError saying what is allowed. Files and widgets both pass
    through here, so no setting can be the wrong type, NaN, or a count that exhausts memory."""
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{owner}.{name} must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValueError(f"{owner}.{name} must be a text of at most {MAX_TEXT} characters")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}.{name} must be a number, got {value!r}")
    if kind is int:
        if not isinstance(value, numbers.Integral):
            if not (math.isfinite(value) and float(value).is_integer()):
                raise ValueError(f"{owner}.{name} must be a whole number, got {value!r}")
        value = int(float(value)) if not isinstance(value, numbers.Integral) else int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}.{name} must be a finite number, got {value!r}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{owner}.{name} must lie in [{bounds[0]}, {bounds[1]}], got {value!r}")
    return value


#: the ranges the controls offer (within the hard limits of RANGES), one place for both windows:
#: the sliders used to differ (SDE sigma 0-3 in 2D, 0-2 in image mode)
CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "steps": (2, 200),
    "sigma": (0.0, 3.0),
    "w": (0.0, 8.0),
    "strip_w": (-5.0, 20.0),
    "n_particles": (100, 50_000),
}


class Evented:
    """Attributes that notify subscribers when changed through :meth:`set`.

    Subclasses list the allowed range of numeric fields in ``RANGES``; every value set is
    checked against its field's type (that of its default) and range."""

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {}

    # subclasses are dataclasses (this tells the type checker; fields() reads it at run time)
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def __post_init__(self):
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(name, value)`` after each change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def set(self, **changes) -> list[str]:
        """Validate and apply changes; notify once per changed field. Returns the changed names."""
        known = {f.name: f for f in fields(self)}
        owner = type(self).__name__
        checked = {}
        for name, value in changes.items():
            if name not in known or name.startswith("_"):
                raise AttributeError(f"{owner} has no parameter {name!r}")
            default = known[name].default
            value = check_value(owner, name, value, default, self.RANGES.get(name))
            if name in CHOICES and value not in CHOICES[name]:
                raise ValueError(f"{name} must be one of {CHOICES[name]}, got {value!r}")
            checked[name] = value
        changes = checked
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
    coupling: str = "independent"
    _listeners: list = field(default_factory=list, repr=False)

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "t": (0.0, 1.0),
        "steps": (1, 1000),
        "sigma": (0.0, 10.0),
        "n_particles": (1, 100_000),
        "w": (-20.0, 20.0),
        "label": (-1, 1000),
        "seed": (0, 2**31 - 1),
        "width": (1, 4096),
        "depth": (1, 64),
        "batch_size": (1, 65_536),
        "lr": (1e-8, 1.0),
        "label_dropout": (0.0, 1.0),
    }

    def __post_init__(self):
        super().__post_init__()
