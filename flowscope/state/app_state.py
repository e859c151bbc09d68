"""The explorer's parameters as evented dataclasses (no Qt, no tensors), built on psygnal.

Every field has its own signal: ``state.events.sigma.connect(cb)`` calls ``cb(value)`` (or
``cb(value, old)``) once per change, and never when a value equal to the current one is set, so
a widget that writes back what it was just told cannot start an echo loop. ``state.events.all``
relays every field's signal; :meth:`Evented.subscribe` keeps the older ``callback(name, value)``
form on top of it.

Each field carries its metadata (:func:`param`): the hard bounds every value is checked
against, the range the controls offer, the allowed choices (the tuples core defines, one list
each, next to the code that implements them) and the label a panel shows. Panels read them
with :meth:`Evented.control_range`, :meth:`Evented.choices` and :meth:`Evented.label_of`.

The 2D (:class:`AppState`) and the image mode (``ImageState``) share the sampler and training
sub-models (:class:`SamplerParams`, :class:`TrainingParams`): the same fields, types, bounds,
ranges and labels; only a few defaults differ (:func:`with_default`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar

from psygnal import EmissionInfo, EmitLoopError, SignalGroupDescriptor

from ..core.couplings import COUPLINGS
from ..core.data.presets import PRESETS
from ..core.defaults import BATCH_2D, DEPTH_2D, LR_2D, WIDTH_2D
from ..core.images import COLOR_MODES
from ..core.paths import PARAMETERIZATIONS
from ..core.samplers import SIGMA_SCHEDULES, SOLVERS
from ..core.schedules import SCHEDULE_NAMES
from ..train.compute import DENSITY_SOURCES, FIELD_SOURCES, GUIDE_PARTS

Listener = Callable[[str, object], None]

FOLLOW = ("auto", "learned", "exact")  # auto: the learned field once there are weights

#: every choice list is defined once, next to the code that implements it (kept as a dict for
#: code that looks a list up by field name; the fields carry the same tuples in their metadata)
CHOICES = {
    "solver": SOLVERS,
    "sigma_schedule": SIGMA_SCHEDULES,
    "objective": PARAMETERIZATIONS,
    "schedule": SCHEDULE_NAMES,
    "field_source": FIELD_SOURCES,
    "density_source": DENSITY_SOURCES,
    "guide_part": GUIDE_PARTS,
    "particles_follow": FOLLOW,
    "color": COLOR_MODES,
    "coupling": COUPLINGS,  # issue 14: how (x_0, x_1) pairs are drawn in training
    "source": ("gaussian", *PRESETS, "drawing", "file"),  # issue 14: p_init (see AppState.source)
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


def param(
    default: Any,
    *,
    bounds: tuple[float, float] | None = None,
    control: tuple[float, float] | None = None,
    choices: tuple | None = None,
    label: str = "",
    check: Callable[[Any], object] | None = None,
) -> Any:
    """A state field: ``default`` (its type is the field's type), the hard ``bounds`` every
    value is checked against, the ``control`` range a slider or spin box offers (inside the
    bounds; the bounds when omitted), the allowed ``choices`` and the ``label`` panels show;
    ``check(value)`` raises ValueError for a value the field cannot hold (e.g. the
    guidance-scale parser for a list of w)."""
    if control is not None and bounds is not None:
        assert bounds[0] <= control[0] <= control[1] <= bounds[1], (control, bounds)
    if choices is not None:
        assert default in choices, (default, choices)
    meta = {"bounds": bounds, "control": control or bounds, "choices": choices, "label": label,
            "check": check}  # fmt: skip
    return field(default=default, metadata=meta)


def with_default(owner: type[Evented], name: str, default: Any, **overrides: Any) -> Any:
    """``owner``'s field ``name`` (its bounds, range, choices, label) with another default:
    how the image mode keeps the shared sub-models but starts from its own values
    (``overrides``: metadata that differs, e.g. the range a smaller network's spin box offers)."""
    meta = dict(owner.__dataclass_fields__[name].metadata)
    meta.update(overrides)
    keys = ("bounds", "control", "choices", "label", "check")
    return param(default, **{k: meta[k] for k in keys})


class Evented:
    """Dataclass fields with a psygnal signal each (``self.events.<name>``), validated on set.

    Assigning a field (``state.sigma = 1.0``) and :meth:`set` both check the value against the
    field's type (that of its default), bounds and choices and raise ValueError saying what is
    allowed; a value equal to the current one emits nothing."""

    events: ClassVar[SignalGroupDescriptor] = SignalGroupDescriptor(
        patch_setattr=False, connect_child_events=False, warn_on_no_fields=False
    )
    # subclasses are dataclasses (this tells the type checker; fields() reads it at run time)
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    # ------------------------------------------------------------------ metadata
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def meta(cls, name: str) -> dict:
        f = cls.__dataclass_fields__.get(name)
        if f is None:
            raise AttributeError(f"{cls.__name__} has no parameter {name!r}")
        return dict(f.metadata)

    @classmethod
    def bounds(cls, name: str) -> tuple[float, float] | None:
        return cls.meta(name).get("bounds")

    @classmethod
    def control_range(cls, name: str) -> tuple[float, float]:
        """The range a control offers for ``name`` (inside its hard bounds)."""
        r = cls.meta(name).get("control")
        if r is None:
            raise ValueError(f"{cls.__name__}.{name} has no numeric range")
        return r

    @classmethod
    def choices(cls, name: str) -> tuple:
        c = cls.meta(name).get("choices")
        if c is None:
            raise ValueError(f"{cls.__name__}.{name} is not a choice")
        return c

    @classmethod
    def label_of(cls, name: str) -> str:
        return cls.meta(name).get("label") or name

    @classmethod
    def default_of(cls, name: str) -> Any:
        d = cls.__dataclass_fields__[name].default
        assert d is not MISSING
        return d

    # ------------------------------------------------------------------ values
    def _checked(self, name: str, value):
        owner = type(self).__name__
        f = self.__dataclass_fields__.get(name)
        if f is None or name.startswith("_"):
            raise AttributeError(f"{owner} has no parameter {name!r}")
        value = check_value(owner, name, value, f.default, f.metadata.get("bounds"))
        choices = f.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"{owner}.{name} must be one of {choices}, got {value!r}")
        check = f.metadata.get("check")
        if check is not None:
            try:
                check(value)
            except ValueError as e:
                raise ValueError(f"{owner}.{name}: {e}") from None
        return value

    def __setattr__(self, name: str, value) -> None:
        if name not in self.__dataclass_fields__:
            object.__setattr__(self, name, value)  # the cached signal group, private attributes
        elif name not in self.__dict__:
            object.__setattr__(self, name, self._checked(name, value))  # __init__
        else:
            self.set(**{name: value})

    def set(self, **changes) -> list[str]:
        """Validate all changes, apply them, then emit each changed field's signal once (in
        the order given), so every listener sees the complete new state. Returns the changed
        names. Nothing is applied when any value is invalid."""
        checked = {n: self._checked(n, v) for n, v in changes.items()}
        old = {n: getattr(self, n) for n in checked}
        changed = [n for n, v in checked.items() if old[n] != v]
        for n in changed:
            object.__setattr__(self, n, checked[n])
        group = self.events
        try:
            for n in changed:
                group[n].emit(checked[n], old[n])
        except EmitLoopError as e:
            # a listener failed: raise what it raised (psygnal wraps it), as before psygnal, so
            # that callers catching e.g. ValueError around set() still catch it
            err: BaseException = e
            while isinstance(err, EmitLoopError) and err.__cause__ is not None:
                err = err.__cause__
            raise err from None
        return changed

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(name, value)`` after each change (every field, through
        ``events.all``); returns an unsubscribe function. Prefer ``events.<name>.connect``."""

        def relay(info: EmissionInfo) -> None:
            listener(info.signal.name, info.args[0])

        self.events.all.connect(relay)
        return lambda: self.events.all.disconnect(relay)

    def to_dict(self) -> dict:
        return {n: getattr(self, n) for n in self.field_names() if not n.startswith("_")}

    def update_from_dict(self, d: dict) -> list[str]:
        """Apply the known keys of ``d`` (unknown keys are ignored: files from newer versions)."""
        known = set(self.field_names())
        return self.set(**{k: v for k, v in d.items() if k in known})


@dataclass(eq=False)
class SamplerParams(Evented):
    """How samples are drawn (2D and image mode): time convention t=0 noise, t=1 data."""

    steps: int = param(50, bounds=(1, 1000), control=(2, 200), label="steps n")
    solver: str = param("heun", choices=SOLVERS, label="ODE solver")
    # the SDE sliders used to differ (sigma 0-3 in 2D, 0-2 in image mode): one range here
    sigma: float = param(0.8, bounds=(0.0, 10.0), control=(0.0, 3.0), label="SDE σ")
    sigma_schedule: str = param("constant", choices=SIGMA_SCHEDULES, label="σₜ schedule")
    seed: int = param(0, bounds=(0, 2**31 - 1), control=(0, 10**6), label="seed")


@dataclass(eq=False)
class TrainingParams(Evented):
    """What the trainer optimizes and how (2D and image mode); the network size is per mode."""

    objective: str = param("velocity", choices=PARAMETERIZATIONS, label="objective")
    schedule: str = param("condot", choices=SCHEDULE_NAMES, label="schedule")
    batch_size: int = param(BATCH_2D, bounds=(1, 65_536), control=(16, 8192), label="batch")
    lr: float = param(LR_2D, bounds=(1e-8, 1.0), control=(1e-4, 0.05), label="lr")
    device: str = param("auto", label="device")
    label_dropout: float = param(0.1, bounds=(0.0, 1.0), label="label dropout η")


@dataclass(eq=False)
class AppState(SamplerParams, TrainingParams):
    """Everything the user can set in the explorer. Time convention: t=0 noise, t=1 data."""

    # target
    target_source: str = param("two_moons", label="target")  # preset, file path or "drawing"
    # sampling / view
    t: float = param(0.0, bounds=(0.0, 1.0), label="t")
    playing: bool = param(True, label="play")
    loop: bool = param(True, label="loop")
    drop_score_term: bool = param(False, label="drop the σ²/2 score term")
    n_particles: int = param(4000, bounds=(1, 100_000), control=(100, 50_000), label="particles")
    w: float = param(1.0, bounds=(-20.0, 20.0), control=(0.0, 8.0), label="guidance w")
    label: int = param(-1, bounds=(-1, 1000), label="class y")  # -1: unconditional
    particles_follow: str = param("auto", choices=FOLLOW, label="particles follow")
    field_source: str = param("learned", choices=FIELD_SOURCES, label="arrows")
    guide_part: str = param("guided", choices=GUIDE_PARTS, label="guidance arrows")
    density_source: str = param("exact", choices=DENSITY_SOURCES, label="heatmap")
    show_density: bool = param(True, label="density")
    show_field: bool = param(True, label="field")
    show_score: bool = param(False, label="score")
    show_trails: bool = param(True, label="trails")
    show_particles: bool = param(True, label="particles")
    # training: the 2D MLP (the recipe shared with the CLI and the library, core/defaults)
    width: int = param(WIDTH_2D, bounds=(1, 4096), control=(16, 1024), label="width")
    depth: int = param(DEPTH_2D, bounds=(1, 64), control=(1, 8), label="depth")
    coupling: str = param("independent", choices=COUPLINGS, label="coupling")
    #: issue 14: p_init, the standard Gaussian, a preset (a data-to-data bridge), the canvas's
    #: source layer ("drawing") or the point file ``source_file`` ("file")
    source: str = param("gaussian", choices=CHOICES["source"], label="source p_init")
    source_file: str = param("", label="source file")  # the point file of source "file"


def __getattr__(name: str):
    """``CONTROL_RANGES``: the ranges the controls offer, read from the fields' metadata of both
    modes (built on first use: image_state imports this module)."""
    if name == "CONTROL_RANGES":
        from .image_state import ImageState

        ranges = {n: AppState.control_range(n) for n in ("steps", "sigma", "w", "n_particles")}
        ranges["strip_w"] = ImageState.control_range("strip_w")
        return ranges
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
