"""Built-in 2D targets, each an exact Gaussian mixture lying roughly within [-3, 3]^2.

Every preset is deterministic (no randomness at all: components sit on regular grids/arcs), so
a preset name fully describes its density.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..exact import ExactMarginal
from .image import target_from_image
from .target import DataError, Target

ASSETS = Path(__file__).resolve().parents[2] / "assets"  # flowscope/assets, shipped in the wheel


def find_asset(name: str) -> Path:
    """Path of an asset shipped inside the package: flowscope/assets/name."""
    path = ASSETS / name
    if not path.is_file():
        raise DataError(
            f"asset {name!r} not found in {ASSETS}; reinstall flowscope "
            "(or run assets/make_logo.py for logo.png)"
        )
    return path


def _arc(theta: np.ndarray, radius: float | np.ndarray = 1.0) -> np.ndarray:
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)


def _mid(n: int) -> np.ndarray:
    """n evenly spaced numbers in (0, 1): (k + 0.5) / n."""
    return (np.arange(n) + 0.5) / n


def _preset(name, means, widths, weights=None, labels=None, class_names=None, schedule="condot"):
    exact = ExactMarginal(means, weights=weights, widths=widths, labels=labels, schedule=schedule)
    return Target(name, exact, "preset", class_names=class_names, source=name)


def eight_gaussians(schedule: str = "condot") -> Target:
    """8 Gaussians (std 0.15) on a ring of radius 2.5; class i = the i-th one, from east CCW."""
    means = _arc(np.arange(8) * (math.pi / 4), 2.5)
    names = ["E", "NE", "N", "NW", "W", "SW", "S", "SE"]
    return _preset("eight_gaussians", means, 0.15, None, np.arange(8), names, schedule)


def two_moons(schedule: str = "condot") -> Target:
    """Two interleaved half circles (100 components each, std 0.1); classes upper, lower."""
    theta = math.pi * _mid(100)
    upper = _arc(theta)
    lower = np.stack([1 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
    means = (np.concatenate([upper, lower]) - [0.5, 0.25]) * 1.6
    labels = np.repeat([0, 1], 100)
    return _preset("two_moons", means, 0.1, None, labels, ["upper", "lower"], schedule)


def circles(schedule: str = "condot") -> Target:
    """Two concentric rings, radii 1.25 and 2.5 (std 0.1), equal mass; classes inner, outer."""
    n_in, n_out = 160, 320
    means = np.concatenate(
        [_arc(2 * math.pi * _mid(n_in), 1.25), _arc(2 * math.pi * _mid(n_out), 2.5)]
    )
    weights = np.concatenate([np.full(n_in, 1 / n_in), np.full(n_out, 1 / n_out)])
    labels = np.repeat([0, 1], [n_in, n_out])
    return _preset("circles", means, 0.1, weights, labels, ["inner", "outer"], schedule)


def checkerboard(schedule: str = "condot") -> Target:
    """8 filled unit squares of a 4 x 4 board over [-2, 2]^2 (the squares with i + j even).

    Each square holds a 12 x 12 grid of Gaussians inset by 0.08 from its edges with std 0.6 x
    the grid spacing, so the density is flat inside (ripple < 0.2%) and under 2% of the mass
    falls outside the filled squares.
    """
    n, inset = 12, 0.08
    g = inset + (1 - 2 * inset) * np.arange(n) / (n - 1)
    gx, gy = np.meshgrid(g, g)
    cell = np.stack([gx.ravel(), gy.ravel()], axis=1)
    squares = [(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0]
    means = np.concatenate([cell + [i - 2, j - 2] for i, j in squares])
    width = 0.6 * (1 - 2 * inset) / (n - 1)
    return _preset("checkerboard", means, width, schedule=schedule)


def spirals(schedule: str = "condot") -> Target:
    """Two interleaved Archimedean spirals r = b theta (250 components each, std 0.1)."""
    t0, t1 = math.pi / 4, 4 * math.pi
    theta = np.sqrt(t0**2 + _mid(250) * (t1**2 - t0**2))  # evenly spaced in arc length
    arm = _arc(theta, 2.6 / t1 * theta)
    means = np.concatenate([arm, -arm])
    labels = np.repeat([0, 1], 250)
    return _preset("spirals", means, 0.1, None, labels, ["spiral 1", "spiral 2"], schedule)


def swiss_roll(schedule: str = "condot") -> Target:
    """The 2D swiss roll (t cos t, t sin t), t in [1.5 pi, 4.5 pi] uniformly, scaled to r <= 2.8."""
    t = 1.5 * math.pi + 3 * math.pi * _mid(400)
    means = _arc(t, t) * (2.8 / (4.5 * math.pi))
    return _preset("swiss_roll", means, 0.12, schedule=schedule)


def gaussian(schedule: str = "condot") -> Target:
    """A single N(0, 0.5^2 I): every path quantity is a closed-form Gaussian."""
    return _preset("gaussian", np.zeros((1, 2)), 0.5, schedule=schedule)


def logo(schedule: str = "condot") -> Target:
    """The flowscope logo (flowscope/assets/logo.png) as a density, x in [-2.8, 2.8]."""
    img = target_from_image(find_asset("logo.png"), max_pixels=4096, box=2.8, schedule=schedule)
    return Target("logo", img.exact, "preset", source="logo")


_BUILDERS: dict[str, Callable[..., Target]] = {
    "eight_gaussians": eight_gaussians,
    "two_moons": two_moons,
    "circles": circles,
    "checkerboard": checkerboard,
    "spirals": spirals,
    "swiss_roll": swiss_roll,
    "gaussian": gaussian,
    "logo": logo,
}

#: the preset names, in menu order
PRESETS: tuple[str, ...] = tuple(_BUILDERS)


def list_presets() -> list[str]:
    """The preset names, in menu order."""
    return list(PRESETS)


def normalize_name(name: str) -> str:
    """Canonical preset spelling: lower case, '-' and spaces become '_' ("Two Moons")."""
    return "_".join(str(name).strip().lower().replace("-", " ").replace("_", " ").split())


def is_preset(name: str) -> bool:
    """Whether ``name`` spells a preset (case, '-', '_' and spaces ignored as in normalize_name)."""
    return normalize_name(name) in _BUILDERS


def load_preset(name: str, schedule: str = "condot") -> Target:
    """Build the preset ``name`` (see :data:`PRESETS`)."""
    key = normalize_name(name)
    if key not in _BUILDERS:
        raise DataError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return _BUILDERS[key](schedule=schedule)
