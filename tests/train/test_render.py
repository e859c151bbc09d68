"""The pure render function, called directly (no thread, no child process): every request kind
has a renderer, and each renderer's result is checked against the closed forms (ExactMarginal)
or the model it was asked about."""

import dataclasses
import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch

import flowscope.train as train_pkg
from flowscope.core import diagnostics as D
from flowscope.core.exact import ExactMarginal
from flowscope.core.models import ModelConfig
from flowscope.core.samplers import sigma_schedule_fn
from flowscope.train.compute import ComputeWorker
from flowscope.train.compute_process import PRIORITY
from flowscope.train.diagnostics_compute import LOGP_RANGE, DiagMapRequest, DiagnosticsRequest
from flowscope.train.lens import LensRequest
from flowscope.train.render import (
    RENDERERS,
    FieldRequest,
    ImageRequest,
    RenderContext,
    TargetRequest,
    TrajectoryRequest,
    grid_points,
    render,
)
from flowscope.train.steps_curve import STEP_COUNTS, StepsCurveRequest
from flowscope.train.straightness_request import StraightnessRequest
from flowscope.train.trainer import TrainConfig, Trainer

EM = ExactMarginal(
    torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]]), widths=0.3, labels=[0, 1, 1]
)
BOUNDS = (-3.0, 3.0, -3.0, 3.0)


@pytest.fixture(scope="module")
def snap():
    """A small network after 30 steps on EM (weights are what matter, not their quality)."""
    torch.manual_seed(0)
    tr = Trainer(EM, ModelConfig(width=16, depth=2), TrainConfig(steps=30, batch_size=64))
    tr.run()
    return tr.snapshot()


def _request_classes():
    """Every frozen request type in flowscope.train: a dataclass with a string KIND."""
    found = {}
    for info in pkgutil.walk_packages(train_pkg.__path__, "flowscope.train."):
        if info.name.endswith(("process_session", "distributed")):
            continue  # no request types there (and they start nothing on import either)
        mod = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            kind = getattr(cls, "KIND", None)
            if dataclasses.is_dataclass(cls) and isinstance(kind, str):
                found[cls.__qualname__] = kind
    return found


def test_every_kind_has_a_renderer_and_a_priority():
    assert set(PRIORITY) == set(RENDERERS) == set(ComputeWorker.KINDS)
    kinds = _request_classes()
    assert len(kinds) >= 9, kinds  # the nine kinds of today, at least
    missing = {name: k for name, k in kinds.items() if k not in RENDERERS}
    assert not missing, f"request types without a renderer: {missing}"


def test_an_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot render"):
        render(object(), RenderContext())


def test_exact_field_is_the_closed_form():
    ctx = RenderContext()
    t, sigma = 0.6, 0.7
    r = render(FieldRequest(4, EM, None, t, BOUNDS, field_source="exact", sigma=sigma), ctx)
    assert r.generation == 4 and r.t == t and r.origins.shape == r.ode_field.shape
    x = torch.as_tensor(r.origins, dtype=torch.float64)
    tt = torch.full((len(x),), t, dtype=torch.float64)
    u = EM.velocity(x, tt).numpy()
    np.testing.assert_allclose(r.ode_field, u, rtol=1e-4, atol=1e-5)
    xs = torch.as_tensor(r.score_origins, dtype=torch.float64)
    s = EM.score(xs, torch.full((len(xs),), t, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(r.score, s, rtol=1e-4, atol=1e-4)
    sig = float(sigma_schedule_fn(sigma, "constant")(tt[:1])[0])
    drift = u + 0.5 * sig**2 * EM.score(x, tt).numpy()
    np.testing.assert_allclose(r.sde_field, drift, rtol=1e-4, atol=1e-4)
    g = grid_points(BOUNDS, 96).double()
    dens = EM.log_prob(g, t).exp().reshape(96, 96).numpy()
    np.testing.assert_allclose(r.density, dens, rtol=1e-4, atol=1e-7)
    # the same t again is served from the context's heatmap cache
    assert len(ctx.density_cache) == 1
    render(FieldRequest(5, EM, None, t, BOUNDS, field_source="exact"), ctx)
    assert len(ctx.density_cache) == 1


def test_learned_field_and_difference_are_the_networks(snap):
    ctx = RenderContext()
    t = 0.3
    learned = render(FieldRequest(1, EM, snap, t, BOUNDS, grid=9), ctx)
    diff = render(FieldRequest(1, EM, snap, t, BOUNDS, grid=9, field_source="difference"), ctx)
    m = snap.to_model()
    x = torch.as_tensor(learned.origins)
    tt = torch.full((len(x),), t)
    np.testing.assert_allclose(learned.ode_field, m.velocity(x, tt).numpy(), atol=1e-5)
    u_exact = EM.velocity(x.double(), tt.double()).numpy()
    np.testing.assert_allclose(diff.ode_field, learned.ode_field - u_exact, atol=1e-4)


def test_exact_trajectories_start_at_the_seeds_and_reach_the_target():
    r = render(TrajectoryRequest(2, EM, None, n=600, steps=30, sigma=0.5, seed=3), RenderContext())
    assert r.ode.shape == r.sde.shape == (31, 600, 2) and r.ts.shape == (31,)
    assert r.ts[0] == 0.0 and r.ts[-1] == pytest.approx(1.0)
    x0 = torch.randn((600, 2), generator=torch.Generator().manual_seed(3)).numpy()
    np.testing.assert_allclose(r.ode[0], x0, atol=1e-6)
    np.testing.assert_allclose(r.sde[0], x0, atol=1e-6)
    assert r.source == "exact" and r.step == 0
    # p_data's mean is (0, 2/3) with equal weights; every particle ends near a component
    np.testing.assert_allclose(r.ode[-1].mean(0), [0.0, 2.0 / 3.0], atol=0.3)
    centres = EM.means.numpy()
    nearest = np.linalg.norm(r.ode[-1][:, None] - centres[None], axis=2).min(1)
    assert np.mean(nearest < 1.2) > 0.97
    # unguided classes: the most probable component's label of where each particle ends
    ends_left = r.ode[-1][:, 0] < -1.0
    assert ends_left.any() and (r.ode_class[ends_left] == 0).all()


def test_learned_trajectories_report_the_snapshot(snap):
    r = render(TrajectoryRequest(1, EM, snap, n=100, steps=5, score_quality=True), RenderContext())
    assert r.source == "learned" and r.step == snap.step and r.ode.shape == (6, 100, 2)
    assert r.energy is not None and r.energy >= 0.0 and 0.0 <= r.support <= 1.0


def test_target_density_and_floor():
    r = render(TargetRequest(7, EM, BOUNDS, density_grid=32, floor_n=2000), RenderContext())
    g = grid_points(BOUNDS, 32).double()
    np.testing.assert_allclose(
        r.density, EM.log_prob(g, 1.0).exp().reshape(32, 32).numpy(), rtol=1e-4, atol=1e-7
    )
    assert r.generation == 7 and r.floor_error is None and r.floor > 0 and r.floor_stderr > 0


def test_lens_is_the_networks_field_at_one_point(snap):
    r = render(LensRequest(1, snap, (0.4, -0.7), 0.6), RenderContext())
    m = snap.to_model()
    x, t = torch.tensor([[0.4, -0.7]]), torch.full((1,), 0.6)
    np.testing.assert_allclose(r.velocity, m.velocity(x, t)[0].double().numpy(), atol=1e-6)
    np.testing.assert_allclose(r.score, m.score(x, t)[0].double().numpy(), atol=1e-6)


def test_straightness_kinetic_energy_bounds_the_transport_cost(snap):
    r = render(StraightnessRequest(1, snap, EM, n=200, steps=10), RenderContext())
    for part in (r.learned, r.exact):
        # Cauchy-Schwarz on the Euler steps: KE = h sum |u|^2 >= |sum h u|^2 = C per particle
        assert part["kinetic_energy"] >= part["transport_cost"] - 1e-9 and part["gap"] >= -1e-9
    assert r.step == snap.step


def test_steps_curve_of_the_exact_flow_improves_with_steps(snap):
    r = render(StepsCurveRequest(1, snap, EM, n=300), RenderContext())
    assert r.steps == STEP_COUNTS and len(r.learned) == len(r.exact) == len(STEP_COUNTS)
    assert r.exact[-1] < r.exact[0] and r.floor >= 0.0


def test_diagnostics_and_exact_logp_map(snap):
    d = render(
        DiagnosticsRequest(1, EM, snap, parts=("error_by_t",), bins=5, error_n=256),
        RenderContext(),
    )
    assert d.t.shape == (5,) and d.field_mse.shape == (5,) and (d.field_mse >= 0).all()
    m = render(DiagMapRequest(2, EM, None, "exact_logp", 0.5, BOUNDS, res=16), RenderContext())
    logp = EM.log_prob(D.grid(BOUNDS, 16), 1.0).reshape(16, 16)
    want = logp.clamp(min=float(logp.max()) - LOGP_RANGE).numpy()
    assert m.values.shape == (16, 16) and m.t == 1.0
    np.testing.assert_allclose(m.values, want, rtol=1e-4, atol=1e-4)


def test_images_grid_and_strip():
    from flowscope.core.images import load_image_dataset

    digits = load_image_dataset("digits")
    torch.manual_seed(0)
    tr = Trainer(
        digits,
        ModelConfig(image_shape=digits.shape, num_classes=10, arch="unet", channels=8,
                    time_features=8),
        TrainConfig(steps=2, batch_size=16, device="cpu"),
    )  # fmt: skip
    tr.run()
    snap = tr.snapshot()
    req = ImageRequest(3, snap, classes=(0, 1), ws=(1.0, 2.0), per=2, steps=3, strip_frames=4)
    r = render(req, RenderContext())
    assert r.cells.shape == (2, 2, 2, 1, 8, 8) and r.strip.shape == (4, 1, 8, 8)
    assert r.value_range == (0.0, 16.0) and r.step == 2
    assert r.cells.min() >= 0.0 and r.cells.max() <= 16.0
    assert r.strip_t[0] == 0.0 and r.strip_t[-1] == pytest.approx(1.0)
    # the fixed seeds: the same request gives the same images
    np.testing.assert_array_equal(render(req, RenderContext()).cells, r.cells)
