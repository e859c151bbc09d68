"""The class x w guidance grid and the trajectory strip (shared by the CLI and the GUI)."""

import pytest
import torch

from flowscope.core.flow_model import FlowModel, Normalization
from flowscope.core.images.grid import grid_rows, guidance_grid, trajectory_strip
from flowscope.core.models import ModelConfig, build_model
from flowscope.core.render import image_grid, to_rgb8


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    cfg = ModelConfig(arch="unet", image_shape=(1, 8, 8), num_classes=3, channels=8,
                      time_features=8)  # fmt: skip
    m = FlowModel(build_model(cfg), cfg, normalization=Normalization.from_value_range(0.0, 16.0))
    with torch.no_grad():  # an untrained net is nearly 0: make the class matter
        for p in m.net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return m


def test_grid_shape_and_shared_noise(model):
    opts = dict(steps=4, solver="euler")
    cells = guidance_grid(model, [0, 1, 2], [0.0, 1.0, 3.0], per=2, seed=5, **opts)
    assert cells.shape == (3, 3, 2, 1, 8, 8)
    # w = 0 is the unconditional field u(x | empty): from the same noise, every class row agrees
    torch.testing.assert_close(cells[0, 0], cells[1, 0])
    torch.testing.assert_close(cells[0, 0], cells[2, 0])
    # w = 1 is the conditional model: rows differ by class
    assert (cells[0, 1] - cells[1, 1]).abs().max() > 1e-3
    # each cell is exactly model.sample from the seed's noise with that class and w
    noise = torch.randn((2, 1, 8, 8), generator=torch.Generator().manual_seed(5))
    ref = model.sample(2, x0=noise, y=torch.tensor([2, 2]), w=3.0, **opts)
    torch.testing.assert_close(cells[2, 2], ref)
    lo, hi = model.value_range
    assert float(cells.min()) >= lo and float(cells.max()) <= hi
    flat, nrow = grid_rows(cells)
    assert flat.shape == (18, 1, 8, 8) and nrow == 6
    torch.testing.assert_close(flat[6 + 2 * 2 + 1], cells[1, 2, 1])  # reading order


def test_grid_rejects_empty_axes(model):
    with pytest.raises(ValueError):
        guidance_grid(model, [], [1.0])


def test_trajectory_strip_runs_from_noise_to_the_sample(model):
    ts, frames = trajectory_strip(model, y=1, w=2.0, seed=4, frames=5, steps=8, solver="heun")
    assert frames.shape == (5, 1, 8, 8)
    torch.testing.assert_close(ts, torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    noise = model.source_sample(1, seed=4)
    lo, hi = model.value_range
    start = (lo + hi) / 2 + (hi - lo) / 2 * noise[0]  # [-1, 1] -> [0, 16], then clamped
    torch.testing.assert_close(frames[0], start.clamp(lo, hi))
    final = model.sample(1, y=1, w=2.0, seed=4, steps=8, solver="heun")
    torch.testing.assert_close(frames[-1], final[0])


def test_to_rgb8_matches_image_grid():
    x = torch.linspace(0, 16, 2 * 64).reshape(2, 1, 8, 8)
    rgb = to_rgb8(x, (0.0, 16.0))
    assert rgb.shape == (2, 8, 8, 3) and rgb.dtype.name == "uint8"
    assert rgb[0, 0, 0, 0] == 0 and rgb[1, -1, -1, 0] == 255
    grid = image_grid(x, 2, value_range=(0.0, 16.0), pad=1)
    assert (grid[1:9, 1:9] == rgb[0]).all() and (grid[1:9, 10:18] == rgb[1]).all()
