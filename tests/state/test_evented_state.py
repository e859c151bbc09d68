"""The evented state (psygnal): one signal per field, emitted once per change and never for an
equal value; invalid values raise ValueError naming what is allowed; metadata drives ranges."""

import gc
import weakref

import pytest

from flowscope.core.samplers import SOLVERS
from flowscope.core.schedules import SCHEDULE_NAMES
from flowscope.state import AppState, ImageState, SamplerParams, TrainingParams


def test_a_field_signal_fires_once_per_change_and_not_for_equal_values():
    s = AppState()
    sigma, steps, everything = [], [], []
    s.events.sigma.connect(sigma.append)
    s.events.steps.connect(lambda new, old: steps.append((new, old)))
    s.subscribe(lambda name, value: everything.append((name, value)))
    s.set(sigma=1.5)
    s.set(sigma=1.5)  # equal: nothing
    s.sigma = 1.5  # attribute assignment goes through the same path
    s.sigma = 2  # an int for a float field: stored as 2.0, emitted once
    s.set(steps=30, sigma=2.0)  # only steps changed
    assert sigma == [1.5, 2.0] and type(s.sigma) is float
    assert steps == [(30, 50)]
    assert everything == [("sigma", 1.5), ("sigma", 2.0), ("steps", 30)]


def test_listeners_see_the_whole_change_applied():
    """set(a=..., b=...) applies every value before the first signal: a t listener reading
    playing sees the new value (the window stops and moves in one call)."""
    s = AppState(playing=True)
    seen = []
    s.events.t.connect(lambda v: seen.append((v, s.playing)))
    assert s.set(t=0.25, playing=False) == ["t", "playing"]
    assert seen == [(0.25, False)]


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"solver": "midpoint"}, ["solver", "one of", "euler"]),
        ({"steps": 0}, ["steps", "[1, 1000]"]),
        ({"sigma": float("nan")}, ["sigma", "finite"]),
        ({"steps": 2.5}, ["steps", "whole number"]),
        ({"playing": 1}, ["playing", "true or false"]),
        ({"n_particles": "many"}, ["n_particles", "number"]),
        ({"schedule": "linear"}, ["schedule", "one of"]),
    ],
)
def test_invalid_values_raise_value_error_with_a_message_and_change_nothing(changes, words):
    s = AppState()
    fired = []
    s.subscribe(lambda n, v: fired.append(n))
    before = s.to_dict()
    with pytest.raises(ValueError) as e:
        s.set(t=0.5, **changes)  # a valid change in the same call is not applied either
    assert all(w in str(e.value) for w in words), str(e.value)
    with pytest.raises(ValueError):
        setattr(s, *next(iter(changes.items())))
    assert s.to_dict() == before and fired == []


def test_unknown_names_and_construction_are_checked():
    with pytest.raises(AttributeError, match="no parameter 'sigmaa'"):
        AppState().set(sigmaa=1.0)
    with pytest.raises(ValueError, match="color"):
        ImageState(color="sepia")


def test_metadata_holds_core_choices_and_ranges_shared_by_both_modes():
    assert AppState.choices("solver") == SOLVERS == ImageState.choices("solver")
    assert AppState.choices("schedule") == SCHEDULE_NAMES  # poly3 included, from core
    for name in (f.name for f in SamplerParams.__dataclass_fields__.values()):
        assert AppState.meta(name) == ImageState.meta(name), name  # defaults may differ
    for name in TrainingParams.field_names():
        assert AppState.bounds(name) == ImageState.bounds(name), name
    assert isinstance(ImageState(), SamplerParams) and isinstance(AppState(), TrainingParams)
    # each mode keeps its own defaults
    assert (AppState().steps, ImageState().steps) == (50, 20)
    lo, hi = AppState.control_range("sigma")
    b_lo, b_hi = AppState.bounds("sigma")
    assert b_lo <= lo < hi <= b_hi


def test_project_round_trip_through_the_dict():
    a = AppState(sigma=1.25, solver="rk4", schedule="poly3", label=2)
    b = AppState()
    changed = b.update_from_dict(a.to_dict() | {"from_a_newer_version": 1})
    assert set(changed) == {"sigma", "solver", "schedule", "label"}
    assert b.to_dict() == a.to_dict()


def test_connecting_a_bound_method_does_not_keep_its_owner_alive():
    class Owner:
        def on_sigma(self, v):
            pass

    s, o = AppState(), Owner()
    s.events.sigma.connect(o.on_sigma)
    ref = weakref.ref(o)
    del o
    gc.collect()
    assert ref() is None
    s.sigma = 2.0  # the dead listener is dropped, not called


def test_the_grid_columns_go_through_the_one_guidance_scale_parser():
    """ImageState.ws is checked by core's parse_guidance_scales (the GUI field and the CLI's
    --grid-w use it too), so neither a widget nor a project file can store a list the grid
    cannot draw; the strip's w slider offers exactly the parser's range."""
    from flowscope.core.samplers import W_RANGE, parse_guidance_scales
    from flowscope.state import parse_ws

    assert parse_ws is parse_guidance_scales
    s = ImageState()
    s.ws = "0; 2, 4"
    assert s.grid_ws() == (0.0, 2.0, 4.0)
    for bad, why in [("a, b", "numbers"), ("", "at least one"), ("1e9", "lie in")]:
        with pytest.raises(ValueError, match=f"ImageState.ws: .*{why}"):
            s.set(ws=bad)
    assert s.ws == "0; 2, 4"
    assert ImageState.control_range("strip_w") == W_RANGE


@pytest.mark.parametrize("via_subscribe", [False, True])
def test_a_failing_listener_raises_its_own_exception_from_set(via_subscribe):
    """psygnal wraps a listener's exception in EmitLoopError; set() re-raises the original, so
    code that catches e.g. ValueError around state.set (project loading) keeps working."""
    s = AppState()

    def bad(*_):
        raise ValueError("listener says no")

    if via_subscribe:
        s.subscribe(bad)
    else:
        s.events.seed.connect(bad)
    with pytest.raises(ValueError, match="listener says no"):
        s.set(seed=3)
    assert s.seed == 3  # applied before the signals, as before
