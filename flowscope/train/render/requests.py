"""The frozen requests and results of the 2D explorer and image mode (what crosses to the render
side and back, by value). Qt-free. The other kinds live next to their math: train/lens.py,
straightness_request.py, steps_curve.py, diagnostics_compute.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.exact import ExactMarginal
from ..trainer import Snapshot

#: what the arrows show, which heatmap, and which guidance field (FieldRequest's choices)
FIELD_SOURCES = ("learned", "exact", "difference")
#: the diagnostic heatmaps (diagnostics_compute.MAP_KINDS, drawn by ui/diagnostics_maps.py)
DIAGNOSTIC_SOURCES = ("error", "error_unweighted", "continuity", "model_logp", "exact_logp")
DENSITY_SOURCES = ("exact", "histogram", "guided", *DIAGNOSTIC_SOURCES)
GUIDE_PARTS = ("guided", "conditional", "unconditional")

#: the exact heatmap is computed at t rounded to this (invisible: the grid is 96 x 96 anyway)
DENSITY_T_QUANTUM = 1.0 / 400


@dataclass(frozen=True)
class TrajectoryRequest:
    """Particles from the same seeds along the ODE and the SDE, all frames kept."""

    KIND = "trajectory"
    generation: int
    exact: ExactMarginal
    snapshot: Snapshot | None  # None: follow the exact field
    n: int = 4000
    steps: int = 50
    solver: str = "heun"
    sigma: float = 0.8
    sigma_schedule: str = "constant"
    drop_score_term: bool = False
    y: int | None = None
    w: float = 1.0
    seed: int = 0
    #: also measure sample quality with the fixed reference sampler (reference_quality)
    score_quality: bool = False
    #: issue 14: the source p_init X_0 is drawn from (None: N(0, I)); with another source the
    #: exact field is the bridge's and the SDE (defined for a Gaussian source only) is skipped
    source: ExactMarginal | None = None


@dataclass(frozen=True)
class TrajectoryResult:
    generation: int
    ts: np.ndarray  # (K,)
    ode: np.ndarray  # (K, N, 2) float32
    sde: np.ndarray  # (K, N, 2) float32
    source: str  # 'learned' | 'exact'
    step: int  # training step of the snapshot (0 for exact)
    seconds: float
    energy: float | None = None
    support: float | None = None  # share of reference samples inside p_data's support
    precision: float | None = None  # their mean exact log p_data
    #: (N,) int8 class of each particle when the target has classes (None otherwise): the
    #: sampled class y, or unguided the most probable class p(y | x_1) of where it ends
    ode_class: np.ndarray | None = None
    sde_class: np.ndarray | None = None


@dataclass(frozen=True)
class FieldRequest:
    """Arrows and the density at one time t, on a regular grid over ``bounds``."""

    KIND = "field"
    generation: int
    exact: ExactMarginal
    snapshot: Snapshot | None
    t: float
    bounds: tuple[float, float, float, float]
    field_source: str = "learned"  # learned | exact | difference
    grid: int = 21
    density_grid: int = 96
    sigma: float = 0.8
    sigma_schedule: str = "constant"
    drop_score_term: bool = False
    y: int | None = None
    w: float = 1.0
    guide_part: str = "guided"  # guided | conditional | unconditional (with a class y)
    density_kind: str = "marginal"  # marginal p_t(x [| y]) | guided p_t(x|y)^w p_t(x)^(1-w)
    density_t_step: float = DENSITY_T_QUANTUM  # the heatmap's t is rounded to this (cache key)
    source: ExactMarginal | None = None  # issue 14: p_init (None: N(0, I)); exact = the bridge


@dataclass(frozen=True)
class FieldResult:
    generation: int
    t: float
    origins: np.ndarray  # (M, 2)
    ode_field: np.ndarray  # (M, 2): u_t (learned / exact / difference)
    sde_field: np.ndarray  # (M, 2): the SDE drift u_t + sigma_t^2 / 2 s_t (same source)
    score: np.ndarray  # (M, 2)
    density: np.ndarray  # (G, G) exact p_t (row 0 = top)
    bounds: tuple[float, float, float, float]
    #: where ``score`` was evaluated: the grid shifted by half a cell, so the score arrows sit
    #: between the field arrows instead of on top of them
    score_origins: np.ndarray | None = None
    #: the exact field's typical length (RMS of |u|, |drift|, |s| weighted by p_t on the grid): the
    #: views draw every arrow set, learned - exact too, on one scale that keeps this in a cell
    reference: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class TargetRequest:
    """What a new target (or a new objective, schedule or label dropout) needs once: the heatmap
    of p_data for the canvas and the loss floor L_min. Seconds for large mixtures (checkerboard:
    ~1 s each on one core), so never on the GUI thread."""

    KIND = "target"
    generation: int
    exact: ExactMarginal
    bounds: tuple[float, float, float, float]
    objective: str = "velocity"
    schedule: str = "condot"
    label_dropout: float | None = None  # None: the unconditional floor
    score_weighting: str = "beta2"
    density_grid: int = 128
    floor_n: int = 6000


@dataclass(frozen=True)
class TargetResult:
    generation: int
    density: np.ndarray  # (G, G) p_data (row 0 = top)
    bounds: tuple[float, float, float, float]
    floor: float | None  # None when it cannot be computed (message in floor_error)
    floor_stderr: float | None
    floor_error: str | None
    seconds: float


@dataclass(frozen=True)
class ImageRequest:
    """Image mode: the class x w grid from fixed seeds and one sample's trajectory strip."""

    KIND = "images"
    generation: int
    snapshot: Snapshot
    classes: tuple[int, ...] = ()  # empty: an unconditional model (one row)
    ws: tuple[float, ...] = (1.0,)
    per: int = 1
    steps: int = 30
    solver: str = "heun"
    sigma: float = 0.0  # 0: the ODE; > 0: the SDE with sigma_t from sigma_schedule
    sigma_schedule: str = "constant"
    seed: int = 0
    strip_y: int | None = None
    strip_w: float = 1.0
    strip_frames: int = 8


@dataclass(frozen=True)
class ImageResult:
    generation: int
    step: int  # training step of the snapshot
    cells: np.ndarray  # (rows, len(ws), per, C, H, W) in the data's value range
    strip_t: np.ndarray  # (F,)
    strip: np.ndarray  # (F, C, H, W)
    value_range: tuple[float, float]
    seconds: float
